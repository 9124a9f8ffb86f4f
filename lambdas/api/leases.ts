import * as z from 'zod';
import { Instant } from './common.ts';

export const LeaseDescription = z.object({
  leaseId: z.string(),
  kind: z.enum(['database', 'aws', 'ssh', 'oauth']),
  state: z.enum(['issuing', 'active', 'revoking']),
  issuedAt: Instant,
  expiresAt: Instant,
  maxExpiresAt: Instant,
  attempts: z.number().describe('Revocation attempts so far'),
  lastError: z.string().optional(),
  lastAttemptAt: Instant.optional(),
});
export type LeaseDescription = z.infer<typeof LeaseDescription>;

export const LeaseList = z.object({ leases: z.array(LeaseDescription), nextCursor: z.string().optional() });

export const LeaseRenewed = LeaseDescription.extend({
  leaseDuration: z.number().describe('Seconds from now'),
  capped: z.boolean().describe('The max TTL cut the increment short'),
});

/** 200 when revoked; 202 (with the lease) when the target failed and the revocation will be retried. */
export const LeaseRevoked = LeaseDescription.partial().extend({ leaseId: z.string(), revoked: z.boolean() });

export const LeasesRevoked = z.object({
  prefix: z.string(),
  revoked: z.number(),
  failed: z.number().describe('Revocations that failed: they stay listed and are retried (202)'),
});

/** A dynamic credential under its new lease. */
const Issued = LeaseDescription.extend({
  leaseDuration: z.number().describe('Seconds from now'),
  renewable: z.boolean(),
});

export const DatabaseCredential = Issued.extend({ username: z.string(), password: z.string() });

export const AwsCredential = Issued.extend({
  accessKeyId: z.string(),
  secretAccessKey: z.string(),
  sessionToken: z.string(),
  expiration: z.string(),
});
