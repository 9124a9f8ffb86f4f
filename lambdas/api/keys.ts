import * as z from 'zod';
import { Instant } from './common.ts';

/** A customer key a secret may name (`kmsKeyId`): a named key of the local keyring, or a KMS key on AWS. */
export const CustomerKeyView = z.object({
  arn: z.string().describe('The key ARN: what a secret records and describe shows as kmsKeyId'),
  keyId: z.string(),
  aliases: z.array(z.string()).describe('Alias names, without the alias/ prefix'),
  createdAt: Instant.optional(),
});
export type CustomerKeyView = z.infer<typeof CustomerKeyView>;

export const CustomerKeyList = z.object({ keys: z.array(CustomerKeyView) });
export type CustomerKeyList = z.infer<typeof CustomerKeyList>;
