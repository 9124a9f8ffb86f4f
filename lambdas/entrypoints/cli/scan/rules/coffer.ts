import type { SecretLintRuleCreator, SecretLintSourceCode } from '@secretlint/types';
import { ACCESS_KEY_ID_PREFIX } from '../../../../core/auth/sigv4/access-key-types.ts';
import { TOKEN_PREFIX } from '../../../../core/auth/token/token-types.ts';
import { WRAPPING_TOKEN_PREFIX } from '../../../../core/wrapping/response-wrapping.ts';

/**
 * Coffer's own credentials, in the formats the core issues them (so a change of format there changes this rule):
 * - a token: `cft_` + 32 random bytes in base64url (43 characters), `token-service.ts`;
 * - a response-wrapping token: `cwr.` + 43 base64url characters, `response-wrapping.ts`;
 * - an access key id: `AKCF` + 10 random bytes in base32 (16 characters), `access-key-service.ts`;
 * - its secret access key: 30 random bytes in base64 (40 characters). Alone it is any 40-character base64 string, so
 *   it is reported only where the nearest access key id (within a few lines) is a Coffer one, as the pair stands in
 *   `coffer access-key create` output, a credentials file or an env file.
 */
export const COFFER_RULE_ID = 'coffer/coffer-credentials';

const BASE64URL = 'A-Za-z0-9_\\-';
const TOKEN = new RegExp(`(?<![${BASE64URL}])${escapeRegExp(TOKEN_PREFIX)}[${BASE64URL}]{43}(?![${BASE64URL}])`, 'g');
const WRAPPING_TOKEN = new RegExp(
  `(?<![${BASE64URL}.])${escapeRegExp(WRAPPING_TOKEN_PREFIX)}[${BASE64URL}]{43}(?![${BASE64URL}])`,
  'g',
);
const ACCESS_KEY_ID = new RegExp(`(?<![A-Za-z0-9])${ACCESS_KEY_ID_PREFIX}[A-Z2-7]{16}(?![A-Za-z0-9])`, 'g');
/** Any access key id, Coffer's or AWS's: a secret beside an AWS id is the AWS rule's, not this one's. */
const ANY_ACCESS_KEY_ID = new RegExp(
  `(?<![A-Za-z0-9])(?:${ACCESS_KEY_ID_PREFIX}|A3T[A-Z0-9]|AKIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])`,
  'g',
);
const SECRET_ACCESS_KEY = /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/=])/g;
/** How many lines above or below an access key id its secret is looked for. */
const PAIR_DISTANCE_LINES = 3;

const messages = {
  CofferToken: { en: () => 'found a Coffer token' },
  CofferWrappingToken: { en: () => 'found a Coffer response-wrapping token' },
  CofferAccessKeyId: { en: () => 'found a Coffer access key id' },
  CofferSecretAccessKey: { en: () => 'found a Coffer secret access key (beside its access key id)' },
};

export const cofferRule: SecretLintRuleCreator = {
  messages,
  meta: {
    id: COFFER_RULE_ID,
    recommended: true,
    type: 'scanner',
    supportedContentTypes: ['text'],
  },
  create(context) {
    const t = context.createTranslator(messages);
    return {
      file(source: SecretLintSourceCode) {
        const content = source.content;
        for (const match of content.matchAll(TOKEN)) {
          context.report({ message: t('CofferToken'), range: rangeOf(match) });
        }
        for (const match of content.matchAll(WRAPPING_TOKEN)) {
          context.report({ message: t('CofferWrappingToken'), range: rangeOf(match) });
        }
        for (const match of content.matchAll(ACCESS_KEY_ID)) {
          context.report({ message: t('CofferAccessKeyId'), range: rangeOf(match) });
        }
        const ids = [...content.matchAll(ANY_ACCESS_KEY_ID)].map((match) => ({
          line: lineOf(content, match.index),
          coffer: match[0].startsWith(ACCESS_KEY_ID_PREFIX),
        }));
        if (!ids.some((id) => id.coffer)) return;
        for (const match of content.matchAll(SECRET_ACCESS_KEY)) {
          const line = lineOf(content, match.index);
          const nearest = ids
            .map((id) => ({ ...id, distance: Math.abs(id.line - line) }))
            .filter((id) => id.distance <= PAIR_DISTANCE_LINES)
            .sort((a, b) => a.distance - b.distance)[0];
          if (nearest?.coffer === true) context.report({ message: t('CofferSecretAccessKey'), range: rangeOf(match) });
        }
      },
    };
  },
};

function rangeOf(match: RegExpMatchArray): [number, number] {
  const start = match.index ?? 0;
  return [start, start + match[0].length];
}

function lineOf(content: string, index: number | undefined): number {
  let line = 0;
  for (let at = content.indexOf('\n'); at !== -1 && at < (index ?? 0); at = content.indexOf('\n', at + 1)) line += 1;
  return line;
}

function escapeRegExp(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
