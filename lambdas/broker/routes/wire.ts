import * as z from 'zod';
import { InvalidRequestError, ValidationError } from '../../core/errors.ts';
import { SecretNameSchema } from '../../core/secrets/secret-schema.ts';
import type { RouteContext } from '../route.ts';

/** Shapes shared by several routes. Domain rules (name syntax, sizes) are enforced again by the core services. */
export const SecretNameParam = z.object({ name: SecretNameSchema.describe('Secret name; may contain "/"') });

const base64 = z
  .string()
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')
  .refine((s) => s.length % 4 === 0, 'must be base64 (length is not a multiple of 4)');

export const StringMap = z.record(z.string(), z.string());

/** A value is given as UTF-8 `value` or base64 `binary`, never both. */
export const ValueFields = z.object({
  value: z.string().optional().describe('The secret value as a string'),
  binary: base64.optional().describe('The secret value as base64-encoded bytes'),
});

export type SecretValueWire = z.infer<typeof ValueFields>;

export function toSecretValue(
  wire: SecretValueWire,
): { kind: 'string'; string: string } | { kind: 'binary'; binary: Buffer } | undefined {
  if (wire.value !== undefined && wire.binary !== undefined) {
    throw new ValidationError('give either value or binary, not both');
  }
  if (wire.value !== undefined) return { kind: 'string', string: wire.value };
  if (wire.binary !== undefined) return { kind: 'binary', binary: Buffer.from(wire.binary, 'base64') };
  return undefined;
}

export function iso(epochMs: number): string;
export function iso(epochMs: number | undefined): string | undefined;
export function iso(epochMs: number | undefined): string | undefined {
  return epochMs === undefined ? undefined : new Date(epochMs).toISOString();
}

/** Query-string booleans: only the literal words, so a typo is an error rather than silently false. */
/** A list given as a JSON array, or as one comma-separated string (what a CLI flag or a form sends). */
export function ListOrCommaSeparated(item: z.ZodString, limits: { readonly nonEmpty?: boolean; readonly max: number }) {
  const list = z.array(item).max(limits.max);
  const text = z.string().max(25_000);
  return z
    .union(limits.nonEmpty === true ? [list.min(1), text.min(1)] : [list, text])
    .transform((v) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : v,
    )
    .describe('A list, or a comma-separated string');
}

export const QueryBool = z.enum(['true', 'false']).transform((v) => v === 'true');

export const Pagination = z.object({
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z.string().max(2048).optional(),
});

/**
 * The caller as an engine's recorded grant names it (a rotation's, a database connection's): the audit log's view, a
 * token's accessor HMAC'd, and the request that granted it.
 */
export function grantOf(ctx: RouteContext): {
  grantedBy: { type: string; id: string; displayName: string };
  requestId: string;
} {
  const principal = ctx.principal;
  if (principal === undefined) throw new InvalidRequestError('this operation needs an authenticated caller');
  const { type, id, displayName } = ctx.deps.audit.principal(principal);
  return { grantedBy: { type, id, displayName }, requestId: ctx.requestId };
}
