import * as z from 'zod';
import { Instant, StageMap, StringMap } from './common.ts';
import { ReplicaState } from './replication.ts';

export const SecretCreated = z.object({
  arn: z.string(),
  name: z.string(),
  versionId: z.string().optional().describe('Present when a value was given'),
});
export type SecretCreated = z.infer<typeof SecretCreated>;

/** Where a read stands under the secret's expiration policy, when it warns. */
export const SecretExpiryNotice = z.object({
  state: z.enum(['expiring', 'grace']).describe('expiring: the expiry is within a lead time; grace: past it'),
  expiresAt: Instant,
  graceEndsAt: Instant.describe('When reads stop'),
  readsLeft: z.number().int().optional().describe('Reads left under maxReads'),
});

/** A value, as UTF-8 `value` or base64 `binary`. */
export const SecretRead = z.object({
  name: z.string(),
  arn: z.string(),
  versionId: z.string(),
  versionStages: z.array(z.string()),
  createdAt: Instant,
  value: z.string().optional(),
  binary: z.string().optional().describe('base64'),
  expiry: SecretExpiryNotice.optional().describe('Present while the expiration policy warns'),
  warnings: z.array(z.string()).optional().describe('Human-readable warnings (also in the Warning header)'),
});
export type SecretRead = z.infer<typeof SecretRead>;

export const SecretWritten = z.object({
  arn: z.string(),
  name: z.string(),
  versionId: z.string(),
  versionStages: z.array(z.string()),
});
export type SecretWritten = z.infer<typeof SecretWritten>;

/** A secret's expiration policy as describe shows it (docs/expiration.md). */
export const SecretExpiration = z.object({
  expiresAt: Instant.optional(),
  grace: z.number().int().describe('Seconds reads still succeed after the expiry, with a warning'),
  maxReads: z.number().int().optional(),
  expireWhenRotated: z.string().optional().describe('The secret whose rotation ends this one'),
  expireWhenLeaseRevoked: z.string().optional().describe('The lease whose end ends this one'),
  notifyBefore: z.array(z.number().int()).describe('Lead times of SecretExpiring events, in seconds'),
  setAt: Instant,
  state: z.enum(['active', 'expiring', 'grace', 'expired']),
  effectiveExpiresAt: Instant.optional().describe('The earliest of the time and a condition seen met'),
  graceEndsAt: Instant.optional(),
  readsLeft: z.number().int().optional(),
  reason: z.enum(['time', 'reads', 'rotation', 'lease']).optional(),
});

export const SecretDescribed = z.object({
  arn: z.string(),
  name: z.string(),
  description: z.string(),
  tags: StringMap,
  metadata: StringMap,
  createdAt: Instant,
  updatedAt: Instant,
  deletedAt: Instant.optional(),
  deletionDate: Instant.optional(),
  resourcePolicy: z.string().optional().describe('The resource policy document, as JSON text'),
  kmsKeyId: z
    .string()
    .optional()
    .describe('The ARN of the customer key the secret is sealed under; absent: the default key'),
  versionIdsToStages: StageMap,
  region: z.string().optional().describe('The region the secret lives in (absent from servers before regions)'),
  primaryRegion: z.string().optional().describe("On a replica: its primary's region"),
  replication: z.array(ReplicaState).optional().describe('On a primary with replicas: each replica and its state'),
  expiration: SecretExpiration.optional().describe('The expiration policy and where it stands; absent: none'),
});
export type SecretDescribed = z.infer<typeof SecretDescribed>;

export const SecretUpdated = z.object({ name: z.string(), updated: z.boolean() });

export const SecretDeleted = z.object({ arn: z.string(), name: z.string(), deletionDate: Instant });

export const SecretRestored = z.object({ arn: z.string(), name: z.string() });

export const SecretVersions = z.object({
  versions: z.array(z.object({ versionId: z.string(), versionStages: z.array(z.string()), createdAt: Instant })),
  nextCursor: z.string().optional(),
});

export const SecretStaged = z.object({ name: z.string(), arn: z.string(), versionIdsToStages: StageMap });

export const SecretList = z.object({
  entries: z.array(
    z.discriminatedUnion('kind', [
      z.object({ name: z.string(), arn: z.string(), kind: z.literal('secret') }),
      z.object({ name: z.string().describe('Ends in "/"'), kind: z.literal('folder') }),
    ]),
  ),
  nextCursor: z.string().optional(),
});
