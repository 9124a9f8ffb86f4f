import { z } from 'zod';
import type { AccessKeyRecord } from '../../core/auth/sigv4/access-key-types.ts';
import { InvalidRequestError } from '../../core/errors.ts';
import { PolicyNameSchema } from '../../core/policy/policy-schema.ts';
import { defineRoute, type RouteContext, type RouteDef } from '../route.ts';
import { iso } from './wire.ts';

const IdParam = z.object({ accessKeyId: z.string().regex(/^[A-Za-z0-9]{1,128}$/, 'invalid access key id') });

const CreateBody = z
  .object({
    principal: z.string().min(1).max(64),
    policies: z.array(PolicyNameSchema).max(64).optional(),
    /** Import an existing pair instead of generating one. */
    accessKeyId: z.string().min(1).max(128).optional(),
    secretAccessKey: z.string().min(1).max(128).optional(),
  })
  .strict()
  .refine((b) => (b.accessKeyId === undefined) === (b.secretAccessKey === undefined), {
    error: 'give both accessKeyId and secretAccessKey to import a pair, or neither to generate one',
  });

const describeKey = (record: AccessKeyRecord) => ({ ...record, createdAt: iso(record.createdAt) });

function service(ctx: RouteContext) {
  if (ctx.deps.accessKeys === undefined) throw new InvalidRequestError('access keys are not available in this runtime');
  return ctx.deps.accessKeys;
}

export const accessKeyRoutes: RouteDef[] = [
  defineRoute({
    operation: 'access-key.create',
    method: 'POST',
    path: '/v1/sys/access-keys',
    summary: 'Create (or import) a SigV4 access key for a principal; the secret is returned once',
    mutating: true,
    body: CreateBody,
    sensitive: ['secretAccessKey'],
    access: () => ({ path: 'sys/access-keys', capability: 'sudo' }),
    async handle({ body }, ctx) {
      const keys = service(ctx);
      const created =
        body.accessKeyId !== undefined && body.secretAccessKey !== undefined
          ? await keys.import({
              accessKeyId: body.accessKeyId,
              secretAccessKey: body.secretAccessKey,
              principal: body.principal,
              policies: body.policies,
            })
          : await keys.create({ principal: body.principal, policies: body.policies });
      return {
        status: 201,
        body: { ...describeKey(created.record), secretAccessKey: created.secretAccessKey },
      };
    },
  }),
  defineRoute({
    operation: 'access-key.list',
    method: 'GET',
    path: '/v1/sys/access-keys',
    summary: 'List access keys (never their secrets)',
    mutating: false,
    access: () => ({ path: 'sys/access-keys', capability: 'list' }),
    async handle(_input, ctx) {
      return { body: { accessKeys: (await service(ctx).list()).map(describeKey) } };
    },
  }),
  defineRoute({
    operation: 'access-key.delete',
    method: 'DELETE',
    path: '/v1/sys/access-keys/{accessKeyId}',
    summary: 'Delete an access key',
    mutating: true,
    params: IdParam,
    access: () => ({ path: 'sys/access-keys', capability: 'sudo' }),
    async handle({ params }, ctx) {
      await service(ctx).delete(params.accessKeyId);
      return { status: 204, body: undefined };
    },
  }),
];
