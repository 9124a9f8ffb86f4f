import * as z from 'zod';
import { Instant, StageMap, StringMap } from './common.ts';
import { ReplicaState } from './replication.ts';

export const SecretCreated = z.object({
  arn: z.string(),
  name: z.string(),
  versionId: z.string().optional().describe('Present when a value was given'),
});
export type SecretCreated = z.infer<typeof SecretCreated>;

/** A value, as UTF-8 `value` or base64 `binary`. */
export const SecretRead = z.object({
  name: z.string(),
  arn: z.string(),
  versionId: z.string(),
  versionStages: z.array(z.string()),
  createdAt: Instant,
  value: z.string().optional(),
  binary: z.string().optional().describe('base64'),
});
export type SecretRead = z.infer<typeof SecretRead>;

export const SecretWritten = z.object({
  arn: z.string(),
  name: z.string(),
  versionId: z.string(),
  versionStages: z.array(z.string()),
});
export type SecretWritten = z.infer<typeof SecretWritten>;

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
