import type { SecretLintRuleCreator, SecretLintSourceCode } from '@secretlint/types';

/**
 * JSON Web Tokens (the recommended preset has no rule for them): three base64url parts whose header decodes to a JSON
 * object naming a signing algorithm. An unsigned token (`alg: none`, empty signature) authenticates nothing and is not
 * reported; neither is a string that merely starts with `eyJ`.
 */
export const JWT_RULE_ID = 'coffer/jwt';

const JWT = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{16,}(?![A-Za-z0-9_-])/g;

const messages = { JWT: { en: () => 'found a signed JSON Web Token' } };

export const jwtRule: SecretLintRuleCreator = {
  messages,
  meta: { id: JWT_RULE_ID, recommended: true, type: 'scanner', supportedContentTypes: ['text'] },
  create(context) {
    const t = context.createTranslator(messages);
    return {
      file(source: SecretLintSourceCode) {
        for (const match of source.content.matchAll(JWT)) {
          if (!isSignedJwt(match[0])) continue;
          const start = match.index ?? 0;
          context.report({ message: t('JWT'), range: [start, start + match[0].length] });
        }
      },
    };
  },
};

function isSignedJwt(candidate: string): boolean {
  const [header, payload] = candidate.split('.');
  const decodedHeader = parseJsonObject(header ?? '');
  if (decodedHeader === undefined || parseJsonObject(payload ?? '') === undefined) return false;
  const alg = decodedHeader.alg;
  return typeof alg === 'string' && alg.toLowerCase() !== 'none';
}

function parseJsonObject(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
