import * as z from 'zod';
import { Instant, StringMap } from './common.ts';

/** A token as the API shows it: never the token itself, never its hash. */
export const TokenDescription = z.object({
  accessor: z.string(),
  displayName: z.string(),
  policies: z.array(z.string()),
  createdAt: Instant,
  expiresAt: Instant.nullable().describe('null: never expires'),
  maxExpiresAt: Instant.nullable(),
  ttlSeconds: z.number(),
  renewable: z.boolean(),
  numUses: z.number(),
  usesRemaining: z.number(),
  orphan: z.boolean(),
  parentAccessor: z.string().optional(),
  meta: StringMap,
  identity: z.object({ name: z.string(), metadata: StringMap }).describe('Who it acts as in policies and audit'),
});
export type TokenDescription = z.infer<typeof TokenDescription>;

/** The token is returned once, at creation. */
export const TokenCreated = TokenDescription.extend({ token: z.string() });
export type TokenCreated = z.infer<typeof TokenCreated>;
