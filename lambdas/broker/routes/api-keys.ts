import * as z from 'zod';
import * as api from '../../api/index.ts';
import { requireService } from '../features.ts';
import { defineRoute, type RouteContext, type RouteDef } from '../route.ts';

/** The policy path a service needs `read` on to validate Coffer-managed API keys. */
export const API_KEY_VALIDATE_PATH = 'sys/apikeys/validate';

const ValidateBody = z
  .object({ key: z.string().min(1).max(1024).describe('the API key presented to the service') })
  .strict();

function registry(ctx: RouteContext) {
  return requireService(ctx.deps, 'apiKeys');
}

export const apiKeyRoutes: RouteDef[] = [
  defineRoute({
    operation: 'apikey.validate',
    method: 'POST',
    path: '/v1/apikeys/validate',
    summary: 'Check a Coffer-managed API key: whether it is valid, and its key id, owning secret and scopes',
    mutating: false,
    response: api.ApiKeyValidation,
    body: ValidateBody,
    // The presented key is HMAC'd in the audit log, so a leaked key can be searched for without being stored.
    sensitive: ['key'],
    access: () => ({ path: API_KEY_VALIDATE_PATH, capability: 'read' }),
    async handle({ body }, ctx) {
      const result = await registry(ctx).validate(body.key);
      return {
        body: result.valid
          ? { valid: true, keyId: result.keyId, secret: result.secretName, scopes: result.scopes }
          : { valid: false },
      };
    },
  }),
];
