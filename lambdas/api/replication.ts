import * as z from 'zod';

/** One replica region of a primary and its replication state (AWS's `ReplicationStatus` entry). */
export const ReplicaState = z.object({
  region: z.string(),
  kmsKeyId: z.string().optional().describe('Absent: the default key'),
  status: z.enum(['InSync', 'InProgress', 'Failed']),
  statusMessage: z.string().optional(),
});
export type ReplicaState = z.infer<typeof ReplicaState>;

export const SecretReplication = z.object({ arn: z.string(), replication: z.array(ReplicaState) });
export type SecretReplication = z.infer<typeof SecretReplication>;

export const SecretPromoted = z.object({ arn: z.string() });
export type SecretPromoted = z.infer<typeof SecretPromoted>;

export const ReplicationFaults = z.object({ down: z.array(z.string()).describe('Replica regions marked down') });
export type ReplicationFaults = z.infer<typeof ReplicationFaults>;
