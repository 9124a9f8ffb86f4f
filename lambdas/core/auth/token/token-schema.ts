import * as z from 'zod';
import { DurationInputSchema } from '../../duration.ts';
import { ValidationError } from '../../errors.ts';
import { PolicyNameSchema } from '../../policy/policy-schema.ts';
import type { CreateTokenRequest } from './token-types.ts';

/** Upper bounds on what one token may carry; tokens are read on every request, so they stay small. */
export const TOKEN_LIMITS = {
  policies: 64,
  metaEntries: 64,
  metaKeyLength: 128,
  metaValueLength: 512,
  displayNameLength: 128,
  numUses: 1_000_000,
  /** Longer than any token or accessor we issue, so a lookup of a foreign string fails as "not found", not here. */
  targetLength: 256,
} as const;

const MetaSchema = z
  .record(z.string().min(1).max(TOKEN_LIMITS.metaKeyLength), z.string().max(TOKEN_LIMITS.metaValueLength))
  .refine((meta) => Object.keys(meta).length <= TOKEN_LIMITS.metaEntries, {
    error: `must have at most ${TOKEN_LIMITS.metaEntries} entries`,
  });

const DisplayNameSchema = z
  .string()
  .min(1)
  .max(TOKEN_LIMITS.displayNameLength)
  .regex(/^[\x20-\x7e]+$/, { error: 'must be printable ASCII' });

/** Body of `POST /v1/auth/token/create`. */
export const CreateTokenRequestSchema = z.strictObject({
  policies: z.array(PolicyNameSchema).max(TOKEN_LIMITS.policies).optional(),
  ttl: DurationInputSchema.optional(),
  explicitMaxTtl: DurationInputSchema.optional(),
  numUses: z.number().int().min(0).max(TOKEN_LIMITS.numUses).optional(),
  renewable: z.boolean().optional(),
  displayName: DisplayNameSchema.optional(),
  meta: MetaSchema.optional(),
  identity: z.strictObject({ name: DisplayNameSchema, metadata: MetaSchema.optional() }).optional(),
  noParent: z.boolean().optional(),
}) satisfies z.ZodType<CreateTokenRequest>;

const TargetFields = {
  // Deliberately no format check on `token`: a malformed token must fail like an unknown one, and the messages of
  // this schema must never echo its value.
  token: z.string().min(1).max(TOKEN_LIMITS.targetLength).optional(),
  accessor: z.string().min(1).max(TOKEN_LIMITS.targetLength).optional(),
};

const ONE_TARGET = { error: 'give exactly one of token or accessor' };
const hasOneTarget = (body: { token?: string | undefined; accessor?: string | undefined }) =>
  (body.token === undefined) !== (body.accessor === undefined);

/** Body of `POST /v1/auth/token/lookup`. */
export const LookupTokenRequestSchema = z.strictObject(TargetFields).refine(hasOneTarget, ONE_TARGET);

/** Body of `POST /v1/auth/token/renew`; `increment` defaults to the token's own TTL. */
export const RenewTokenRequestSchema = z
  .strictObject({ ...TargetFields, increment: DurationInputSchema.optional() })
  .refine(hasOneTarget, ONE_TARGET);

/** Body of `POST /v1/auth/token/renew-self`. */
export const RenewSelfRequestSchema = z.strictObject({ increment: DurationInputSchema.optional() });

/** Body of `POST /v1/auth/token/revoke`; `orphan: true` keeps the children alive as orphans. */
export const RevokeTokenRequestSchema = z
  .strictObject({ ...TargetFields, orphan: z.boolean().optional() })
  .refine(hasOneTarget, ONE_TARGET);

export type LookupTokenRequest = z.infer<typeof LookupTokenRequestSchema>;
export type RenewTokenRequest = z.infer<typeof RenewTokenRequestSchema>;
export type RevokeTokenRequest = z.infer<typeof RevokeTokenRequestSchema>;

/** Picks the target of a lookup/renew/revoke body that passed one of the schemas above. */
export function toTokenTarget(body: {
  token?: string | undefined;
  accessor?: string | undefined;
}): { token: string } | { accessor: string } {
  if (body.token !== undefined) return { token: body.token };
  if (body.accessor !== undefined) return { accessor: body.accessor };
  throw new ValidationError(ONE_TARGET.error);
}

/**
 * Validates untrusted input as a create request, for callers (the CLI, the service itself) that did not go through
 * the HTTP layer.
 * @throws ValidationError naming each offending field.
 * @example parseCreateTokenRequest({ policies: ['app'], ttl: '1h' })
 */
export function parseCreateTokenRequest(input: unknown): CreateTokenRequest {
  const result = CreateTokenRequestSchema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
  const shown = issues
    .slice(0, 5)
    .map((issue) => (issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`));
  throw new ValidationError(`invalid token request: ${shown.join('; ')}`, { cause: result.error, details: { issues } });
}
