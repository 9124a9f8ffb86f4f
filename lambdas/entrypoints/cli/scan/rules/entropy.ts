import type { SecretLintRuleCreator, SecretLintSourceCode } from '@secretlint/types';
import { shannonEntropy } from '../entropy.ts';
import { isPlaceholder } from './placeholders.ts';

/**
 * High-entropy values assigned to names that say "secret" (`password`, `api_key`, `client_secret`, `*_TOKEN`, …), in
 * code, env files, YAML and JSON: what no format-specific rule knows, such as a vendor's key with no prefix.
 *
 * A value is reported when all of these hold (thresholds documented in docs/scan.md):
 * - the name looks secret and not like a digest or an identifier (`password_hash`, `checksum`, `key_id` are not);
 * - it is at least `ENTROPY_MIN_LENGTH` characters and has at least `ENTROPY_MIN_BITS` bits of Shannon entropy per
 *   character: random keys of that length score 4 and above, words and sentences below 3.5;
 * - it is not a placeholder, a UUID, a digest in hex or in `sha256:`/`sha512-` notation (lockfile integrity), the
 *   base64 of readable text, an ARN, lowercase words joined by `-`/`_`/`.`/`/` (`x-aws-parameters-secrets-token`),
 *   code that reads the secret from elsewhere (`process.env.DB_PASSWORD`, `config?.secret`), a Coffer secret reference
 *   (`billing/api-key#apiKey`), nor a type annotation.
 */
export const ENTROPY_RULE_ID = 'coffer/high-entropy-assignment';
export const ENTROPY_MIN_LENGTH = 20;
export const ENTROPY_MIN_BITS = 3.5;

const SECRET_NAME =
  /(?:secret|passw(?:or)?d|pwd|token|api_?key|apikey|access_?key|private_?key|signing_?key|encryption_?key|master_?key|credential|auth_?key|client_?secret|session_?key|webhook_?key)/i;
const NOT_SECRET_NAME =
  /(?:hash|digest|checksum|sha\d*|md5|integrity|fingerprint|etag|_?ids?$|public|url$|path$|file$|length|count|ttl|expir|name$|type$|arn$|policy)/i;

/**
 * `name = value`, `name: value`, `"name": "value"`, `name := value`, `name => value`: the name (optionally quoted, with
 * dots and dashes as in YAML and properties files) and the value (optionally quoted, without spaces).
 */
const ASSIGNMENT =
  /(?<![A-Za-z0-9_:/@-])(?<quoteName>["']?)(?<name>[A-Za-z_][A-Za-z0-9_.-]{0,80})\k<quoteName>[ \t]*(?<operator>:=|=>|=|:)[ \t]*(?<quote>["'`]?)(?<value>[^\s"'`,;]{1,500})\k<quote>/g;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^(?:0x)?[0-9a-f]+$/i;
const DIGEST_NOTATION = /^(?:sha(?:1|224|256|384|512)|md5|blake2b?)[-:]/i;
/**
 * Code that fetches the secret rather than holding it: a property path (`process.env.DB_PASSWORD`,
 * `settings.secrets.apiToken`), a call or an index (`getenv(…)`, `os.environ[…]`), an environment variable's name.
 */
const CODE_REFERENCE = /^[A-Za-z_$][\w$]*(?:\??\.[A-Za-z_$][\w$]*)+!?$|[()[\]{}<>]|^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;
/**
 * A Coffer secret reference, as `coffer run --secret NAME=billing/api-key#apiKey@AWSPREVIOUS` takes it, or as a
 * `.env` file holds it for `coffer run --env-file` (`coffer://billing/api-key`, what `coffer scan --fix` writes).
 */
const COFFER_REFERENCE = /^[\w./-]+#[\w.-]+(?:@[\w-]+)?$|^coffer:\/\/[\w/+=.@#-]+$/;
/** Lowercase words joined by `-`, `_`, `.` or `/`: a header name, a path, a test's `pg-password-not-real`. */
const SLUG = /^[a-z0-9]+(?:[-_./][a-z0-9]+){2,}$/;
/** After `name:`, a type annotation (`secret: SecretType = …`, `token: A | B`) rather than a value. */
const TYPE_ANNOTATION_FOLLOWS = /^[ \t]*(?:=(?![=>])|[|&<{[])/;

const messages = {
  HighEntropy: { en: () => 'found a high-entropy value assigned to a secret-looking name' },
};

export const entropyRule: SecretLintRuleCreator = {
  messages,
  meta: { id: ENTROPY_RULE_ID, recommended: true, type: 'scanner', supportedContentTypes: ['text'] },
  create(context) {
    const t = context.createTranslator(messages);
    return {
      file(source: SecretLintSourceCode) {
        for (const match of source.content.matchAll(ASSIGNMENT)) {
          const { name = '', value = '', operator = '' } = match.groups ?? {};
          if (!looksLikeSecretName(name) || !looksLikeSecretValue(value)) continue;
          const end = (match.index ?? 0) + match[0].length;
          if (operator === ':' && TYPE_ANNOTATION_FOLLOWS.test(source.content.slice(end, end + 8))) continue;
          const start = (match.index ?? 0) + match[0].lastIndexOf(value);
          context.report({ message: t('HighEntropy'), range: [start, start + value.length] });
        }
      },
    };
  },
};

export function looksLikeSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !NOT_SECRET_NAME.test(name);
}

export function looksLikeSecretValue(value: string): boolean {
  if (value.length < ENTROPY_MIN_LENGTH) return false;
  if (isPlaceholder(value) || UUID.test(value) || HEX.test(value) || DIGEST_NOTATION.test(value)) return false;
  if (CODE_REFERENCE.test(value) || COFFER_REFERENCE.test(value) || SLUG.test(value)) return false;
  if (value.startsWith('arn:')) return false;
  if (isBase64OfText(value)) return false;
  return shannonEntropy(value) >= ENTROPY_MIN_BITS;
}

/** Base64 that decodes to readable text (a sentence, JSON, a config file) encodes no secret of its own. */
function isBase64OfText(value: string): boolean {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) return false;
  const decoded = Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
  if (decoded.length < 8) return false;
  let readable = 0;
  for (const byte of decoded) if ((byte >= 0x20 && byte < 0x7f) || byte === 0x0a || byte === 0x09) readable += 1;
  return readable / decoded.length >= 0.95 && /[ \n{":,]/.test(decoded.toString('latin1'));
}
