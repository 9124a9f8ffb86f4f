import * as z from 'zod';
import { Instant, StringMap } from './common.ts';

/** SigV4 access keys, IAM caller mappings and Coffer-managed API keys. */
export const AccessKeyDescription = z.object({
  accessKeyId: z.string(),
  principal: z.string(),
  policies: z.array(z.string()),
  metadata: StringMap.optional(),
  createdAt: Instant,
  status: z.string(),
});

/** The secret access key is returned once, at creation. */
export const AccessKeyCreated = AccessKeyDescription.extend({ secretAccessKey: z.string() });

export const AccessKeyList = z.object({ accessKeys: z.array(AccessKeyDescription) });

export const IamMapping = z.object({ pattern: z.string(), policies: z.array(z.string()) });

export const IamMappingList = z.object({ mappings: z.array(IamMapping) });

/** A valid key comes with its id, owning secret and scopes; an invalid one with nothing else. */
export const ApiKeyValidation = z.object({
  valid: z.boolean(),
  keyId: z.string().optional(),
  secret: z.string().optional().describe('The secret that owns the key'),
  scopes: z.array(z.string()).optional(),
});
