import * as z from 'zod';
import * as api from '../../api/wrapping.ts';
import { ValidationError } from '../../core/errors.ts';
import { WRAPPING_TOKEN_PREFIX } from '../../core/wrapping/response-wrapping.ts';
import { requireService } from '../features.ts';
import { defineRoute, type RouteDef } from '../route.ts';

/**
 * Response wrapping's own operations. The wrapping token is the credential (as in Vault, where it is presented as the
 * request's token): no other token is needed, and whoever holds it may unwrap once. Both answer alike for an unknown,
 * used or expired token.
 */
const TokenBody = z.strictObject({
  token: z
    .string()
    .min(1)
    .max(256)
    .refine((token) => token.startsWith(WRAPPING_TOKEN_PREFIX), {
      error: `is not a wrapping token (they start with ${WRAPPING_TOKEN_PREFIX})`,
    }),
});

export const wrappingRoutes: RouteDef[] = [
  defineRoute({
    operation: 'wrapping.unwrap',
    method: 'POST',
    path: '/v1/sys/wrapping/unwrap',
    summary: 'Return a response-wrapped answer, once; the wrapping token is the credential (no other token needed)',
    auth: 'none',
    mutating: true,
    response: api.Unwrapped,
    body: TokenBody,
    sensitive: ['token'],
    // The answer is the credential that was wrapped; its record keeps only its size.
    auditResponse: 'omit',
    resource: () => 'sys/wrapping/unwrap',
    async handle({ body }, ctx) {
      const answer = await requireService(ctx.deps, 'wrapping').unwrap(body.token);
      if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) {
        throw new ValidationError('the wrapped answer is not an object');
      }
      return { body: answer as Record<string, unknown> };
    },
  }),
  defineRoute({
    operation: 'wrapping.lookup',
    method: 'POST',
    path: '/v1/sys/wrapping/lookup',
    summary: 'When and by which operation a wrapping token was made, without using it up',
    auth: 'none',
    mutating: false,
    response: api.WrapLookup,
    body: TokenBody,
    sensitive: ['token'],
    resource: () => 'sys/wrapping/lookup',
    async handle({ body }, ctx) {
      return { body: await requireService(ctx.deps, 'wrapping').lookup(body.token) };
    },
  }),
];
