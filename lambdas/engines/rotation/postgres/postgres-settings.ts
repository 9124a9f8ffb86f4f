import * as z from 'zod';
import { ValidationError } from '../../../core/errors.ts';
import { SecretNameSchema } from '../../../core/secrets/secret-schema.ts';
import { passwordAlphabet } from './postgres-password.ts';

/** Fewest distinct characters a password may be drawn from once `excludeCharacters` is applied. */
export const MIN_ALPHABET = 10;
/** The longest grace period of an alternating rotation: 30 days. */
export const MAX_GRACE_SECONDS = 30 * 24 * 3600;

const PasswordSettings = {
  /** Length of each generated password. @default 32 */
  passwordLength: z.number().int('passwordLength must be an integer').min(16).max(128).default(32),
  /** Characters never used in generated passwords (AWS's `ExcludeCharacters`). @default none beyond the built-in set */
  excludeCharacters: z.string().max(256).optional(),
};

function alphabetIsLargeEnough(settings: { excludeCharacters?: string | undefined }, ctx: z.RefinementCtx): void {
  if (passwordAlphabet(settings.excludeCharacters).length < MIN_ALPHABET) {
    ctx.addIssue({
      code: 'custom',
      path: ['excludeCharacters'],
      message: `leaves fewer than ${MIN_ALPHABET} characters to draw passwords from`,
    });
  }
}

/**
 * `postgres-single`: the user's password is changed in place. Without `adminSecret` the user changes its own
 * password with its current credential; with it, the admin does (for users that may not change their own).
 */
export const PostgresSingleSettingsSchema = z
  .object({
    ...PasswordSettings,
    /** A Coffer secret holding an admin credential (`{ username, password, host?, port?, dbname? }`). @default none */
    adminSecret: SecretNameSchema.optional(),
  })
  .strict()
  .superRefine(alphabetIsLargeEnough);

/**
 * `postgres-alternating`: `user` and `user_clone` take turns; the admin (`adminSecret`) creates the clone, keeps its
 * grants and memberships in step with the current user, and shares object ownership through `<base>_owner`.
 */
export const PostgresAlternatingSettingsSchema = z
  .object({
    ...PasswordSettings,
    /** A Coffer secret holding an admin credential (`{ username, password, host?, port?, dbname? }`). */
    adminSecret: SecretNameSchema,
    /**
     * How long the previous user keeps working after a rotation before its password is scrambled. Unset: until the
     * next rotation changes it (the two users alternate). @default unset
     */
    graceSeconds: z.number().int('graceSeconds must be an integer').min(0).max(MAX_GRACE_SECONDS).optional(),
  })
  .strict()
  .superRefine(alphabetIsLargeEnough);

export type PostgresSingleSettings = z.output<typeof PostgresSingleSettingsSchema>;
export type PostgresSingleSettingsInput = z.input<typeof PostgresSingleSettingsSchema>;
export type PostgresAlternatingSettings = z.output<typeof PostgresAlternatingSettingsSchema>;
export type PostgresAlternatingSettingsInput = z.input<typeof PostgresAlternatingSettingsSchema>;

/**
 * Validates rotation settings, naming the first offending setting and never echoing the input.
 * @throws ValidationError e.g. `invalid postgres-single settings: passwordLength: Too small: expected number to be >=16`
 * @example parsePostgresSettings(PostgresSingleSettingsSchema, { passwordLength: 40 }, 'postgres-single')
 */
export function parsePostgresSettings<T>(schema: z.ZodType<T>, input: unknown, type: string): T {
  const result = schema.safeParse(input ?? {}, { reportInput: false });
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const keys = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '';
  const at = [...issue.path.map(String), ...(keys === '' ? [] : [keys])].join('.') || 'settings';
  throw new ValidationError(`invalid ${type} settings: ${at}: ${issue.message}`);
}
