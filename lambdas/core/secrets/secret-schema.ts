import * as z from 'zod';
import { ValidationError } from '../errors.ts';
import { SECRET_LIMITS as L, type SecretValue } from './secret-types.ts';

/**
 * Input rules of the secrets domain, as zod schemas so the HTTP layer can reuse them, plus `validate`, which turns a
 * failure into a `ValidationError` with a clear message.
 *
 * Messages name the offending field and rule, never the offending value: the value may be a secret.
 */

const NAME_CHARS = /^[A-Za-z0-9/_+=.@-]+$/;

/** A UTF-16 code unit that is half of a surrogate pair without its other half. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Whether a string is well-formed Unicode (`String.prototype.isWellFormed`, which our ES2023 lib does not type). A
 * lone surrogate cannot be encoded as UTF-8: stored, it would silently become U+FFFD, so what we acknowledged would
 * not be what a reader gets back. Every string the secrets domain stores must pass this.
 */
export function isWellFormedText(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/** The message of the well-formedness rule for `what`; names the field, never the value. */
export const notWellFormed = (what: string): string => `${what} must be well-formed Unicode (no lone surrogate)`;

/**
 * A secret name. AWS's character set and length, plus path rules AWS lacks: names double as policy paths
 * (`secrets/<name>`), so `a//b`, `/a`, `a/` and `a/../b` would give one secret several spellings, or let a name
 * look like it escapes its folder.
 *
 * @example
 * ```ts
 * SecretNameSchema.parse('prod/db/password'); // ok
 * SecretNameSchema.parse('prod//db'); // throws: empty segment
 * ```
 */
export const SecretNameSchema = z
  .string({ error: 'name must be a string' })
  .min(1, 'name must not be empty')
  .max(L.nameMaxLength, `name must be at most ${L.nameMaxLength} characters`)
  .regex(NAME_CHARS, 'name may only contain letters, digits and /_+=.@-')
  .refine((name) => !name.startsWith('/') && !name.endsWith('/'), "name must not start or end with '/'")
  .refine((name) => !name.includes('//'), "name must not contain an empty segment ('//')")
  .refine(
    (name) => name.split('/').every((segment) => segment !== '.' && segment !== '..'),
    "name must not contain a '.' or '..' segment",
  );

/** AWS `ClientRequestToken`: it becomes the version id, so it shares the version id's alphabet. */
export const ClientRequestTokenSchema = z
  .string({ error: 'clientRequestToken must be a string' })
  .regex(/^[A-Za-z0-9-]{32,64}$/, "clientRequestToken must be 32–64 characters of letters, digits and '-'");

/** A version id given by a caller. Unknown ids are a `NotFoundError`, so only the shape is checked here. */
export const VersionIdSchema = z
  .string({ error: 'versionId must be a string' })
  .min(1, 'versionId must not be empty')
  .max(64, 'versionId must be at most 64 characters')
  .refine(isWellFormedText, notWellFormed('versionId'));

export const DescriptionSchema = z
  .string({ error: 'description must be a string' })
  .max(L.descriptionMaxLength, `description must be at most ${L.descriptionMaxLength} characters`)
  .refine(isWellFormedText, notWellFormed('description'));

export const StagingLabelSchema = z
  .string({ error: 'a staging label must be a string' })
  .min(1, 'a staging label must not be empty')
  .max(L.labelMaxLength, `a staging label must be at most ${L.labelMaxLength} characters`)
  .refine(isWellFormedText, notWellFormed('a staging label'));

/** A resource policy document as stored (its JSON is checked by the policy parser). */
export const ResourcePolicyTextSchema = z
  .string({ error: 'resourcePolicy must be a string' })
  .refine(isWellFormedText, notWellFormed('resourcePolicy'));

export const VersionStagesSchema = z
  .array(StagingLabelSchema, { error: 'versionStages must be a list of labels' })
  .min(1, 'versionStages must name at least one label')
  .refine(
    (labels) => new Set(labels).size <= L.maxLabelsPerVersion,
    `a version carries at most ${L.maxLabelsPerVersion} staging labels`,
  );

interface StringMapRules {
  readonly what: string;
  readonly maxKeys: number;
  readonly keyMaxLength: number;
  readonly valueMaxLength: number;
  readonly reservedKeyPrefix?: string;
}

function stringMap(rules: StringMapRules) {
  return z
    .record(z.string(), z.string(), { error: `${rules.what} must map strings to strings` })
    .superRefine((map, ctx) => {
      const keys = Object.keys(map);
      if (keys.length > rules.maxKeys) {
        ctx.addIssue({ code: 'custom', message: `at most ${rules.maxKeys} ${rules.what} are allowed` });
      }
      for (const key of keys) {
        if (key.length < 1 || key.length > rules.keyMaxLength) {
          ctx.addIssue({ code: 'custom', message: `${rules.what} keys must be 1–${rules.keyMaxLength} characters` });
        }
        if (rules.reservedKeyPrefix !== undefined && key.toLowerCase().startsWith(rules.reservedKeyPrefix)) {
          ctx.addIssue({
            code: 'custom',
            message: `${rules.what} keys starting with '${rules.reservedKeyPrefix}' are reserved`,
          });
        }
        if ((map[key] ?? '').length > rules.valueMaxLength) {
          ctx.addIssue({
            code: 'custom',
            message: `${rules.what} values must be at most ${rules.valueMaxLength} characters`,
          });
        }
        if (!isWellFormedText(key) || !isWellFormedText(map[key] ?? '')) {
          ctx.addIssue({ code: 'custom', message: notWellFormed(`${rules.what} keys and values`) });
        }
      }
    });
}

/** Tags, as AWS: at most 50, key 1–128, value 0–256, the `aws:` key prefix reserved. */
export const TagsSchema = stringMap({
  what: 'tags',
  maxKeys: L.maxTags,
  keyMaxLength: L.tagKeyMaxLength,
  valueMaxLength: L.tagValueMaxLength,
  reservedKeyPrefix: 'aws:',
});

export const TagKeySchema = z
  .string({ error: 'a tag key must be a string' })
  .min(1, 'a tag key must not be empty')
  .max(L.tagKeyMaxLength, `a tag key must be at most ${L.tagKeyMaxLength} characters`)
  .refine(isWellFormedText, notWellFormed('a tag key'));

/** Custom metadata, as Vault KV v2's `custom_metadata`: at most 64 keys, key 1–128, value ≤ 512. */
export const CustomMetadataSchema = stringMap({
  what: 'metadata',
  maxKeys: L.maxMetadataKeys,
  keyMaxLength: L.metadataKeyMaxLength,
  valueMaxLength: L.metadataValueMaxLength,
});

const sizeMessage = `a value must be between 1 and ${L.valueMaxBytes} bytes`;

/** A value is a string (1–65,536 UTF-8 bytes) or bytes (1–65,536), never both. */
export const SecretValueSchema: z.ZodType<SecretValue> = z.discriminatedUnion(
  'kind',
  [
    z.strictObject(
      {
        kind: z.literal('string'),
        string: z
          .string({ error: 'a string value must be a string' })
          .refine((s) => s.length > 0 && Buffer.byteLength(s, 'utf8') <= L.valueMaxBytes, sizeMessage)
          .refine(isWellFormedText, notWellFormed('a string value')),
      },
      { error: 'give either a string or a binary value, not both' },
    ),
    z.strictObject(
      {
        kind: z.literal('binary'),
        binary: z
          .instanceof(Buffer, { error: 'a binary value must be bytes' })
          .refine((b) => b.length > 0 && b.length <= L.valueMaxBytes, sizeMessage),
      },
      { error: 'give either a string or a binary value, not both' },
    ),
  ],
  { error: "a value must be { kind: 'string', string } or { kind: 'binary', binary }" },
);

export const RecoveryWindowDaysSchema = z
  .number({ error: 'recoveryWindowDays must be a number' })
  .int('recoveryWindowDays must be a whole number of days')
  .min(L.minRecoveryWindowDays, `recoveryWindowDays must be between ${L.minRecoveryWindowDays} and 30`)
  .max(L.maxRecoveryWindowDays, `recoveryWindowDays must be between ${L.minRecoveryWindowDays} and 30`);

/** Page size of the list operations. */
export const PageLimitSchema = z
  .number({ error: 'limit must be a number' })
  .int('limit must be a whole number')
  .min(1, 'limit must be between 1 and 1000')
  .max(1000, 'limit must be between 1 and 1000');

/**
 * Parses `input` or throws a `ValidationError` whose message lists every broken rule.
 *
 * @example
 * ```ts
 * const name = validate(SecretNameSchema, input.name);
 * ```
 * @throws ValidationError
 */
export function validate<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const messages = [...new Set(result.error.issues.map((issue) => issue.message))];
  throw new ValidationError(messages.join('; '), { cause: result.error });
}
