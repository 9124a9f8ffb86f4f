import type { SecretLintRuleCreator, SecretLintSourceCode } from '@secretlint/types';

/**
 * PEM private keys the preset's rule passes over: it wants at least 100 base64 characters starting `MI` (a DER
 * sequence longer than 127 bytes), so it misses small keys, an EC P-256 key in SEC1 form (`MHcC…`, 121 bytes) or an
 * Ed25519 key in PKCS#8 (`MC4C…`, 48 bytes). Here a body is a key when it is base64 that decodes to a DER sequence
 * (0x30) or an OpenSSH key (`openssh-key-v1`); a placeholder such as `...` is no base64 and is not reported.
 */
export const PRIVATE_KEY_RULE_ID = 'coffer/private-key';

const PEM =
  /-----BEGIN (?<label>(?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY)-----(?<body>[\s\S]{1,20000}?)-----END \k<label>-----/g;
const OPENSSH_MAGIC = Buffer.from('openssh-key-v1\0');
/** The shortest real body: an Ed25519 PKCS#8 key is 48 bytes, 64 base64 characters. */
const MIN_BODY_CHARS = 60;

const messages = { PrivateKey: { en: () => 'found a private key (PEM)' } };

export const privateKeyRule: SecretLintRuleCreator = {
  messages,
  meta: { id: PRIVATE_KEY_RULE_ID, recommended: true, type: 'scanner', supportedContentTypes: ['text'] },
  create(context) {
    const t = context.createTranslator(messages);
    return {
      file(source: SecretLintSourceCode) {
        for (const match of source.content.matchAll(PEM)) {
          if (!isKeyBody(match.groups?.body ?? '')) continue;
          const start = match.index ?? 0;
          context.report({ message: t('PrivateKey'), range: [start, start + match[0].length] });
        }
      },
    };
  },
};

function isKeyBody(body: string): boolean {
  // Encrypted PKCS#1 keys carry `Proc-Type`/`DEK-Info` headers before the base64.
  const base64 = body
    .split(/\r?\n|\\n/)
    .filter((line) => !line.includes(':'))
    .join('')
    .trim();
  if (base64.length < MIN_BODY_CHARS || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return false;
  const der = Buffer.from(base64, 'base64');
  return der[0] === 0x30 || der.subarray(0, OPENSSH_MAGIC.length).equals(OPENSSH_MAGIC);
}
