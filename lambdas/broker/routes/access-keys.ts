import * as z from 'zod';
import * as api from '../../api/index.ts';
import { assertPoliciesExist, POLICY_LIST_PATH } from '../../core/auth/derived-credentials.ts';
import type { AccessKeyRecord } from '../../core/auth/sigv4/access-key-types.ts';
import { UnauthenticatedError } from '../../core/errors.ts';
import { PolicyNameSchema } from '../../core/policy/policy-schema.ts';
import { requireService } from '../features.ts';
import { defineRoute, type RouteContext, type RouteDef } from '../route.ts';
import { iso } from './wire.ts';

const IdParam = z.object({ accessKeyId: z.string().regex(/^[A-Za-z0-9]{1,128}$/, 'invalid access key id') });

const CreateBody = z
  .object({
    /** Defaults to the caller's identity name; naming anyone else needs root. */
    principal: z.string().min(1).max(64).optional(),
    policies: z.array(PolicyNameSchema).max(64).optional(),
    /** Import an existing pair instead of generating one. */
    accessKeyId: z.string().min(1).max(128).optional(),
    secretAccessKey: z.string().min(1).max(128).optional(),
  })
  .strict()
  .refine((b) => (b.accessKeyId === undefined) === (b.secretAccessKey === undefined), {
    error: 'give both accessKeyId and secretAccessKey to import a pair, or neither to generate one',
  });

/** Field by field: a key's ceilings name its creators (token accessors among them) and stay server-side. */
const describeKey = (record: AccessKeyRecord) => ({
  accessKeyId: record.accessKeyId,
  principal: record.principal,
  policies: record.policies,
  ...(record.metadata === undefined ? {} : { metadata: record.metadata }),
  createdAt: iso(record.createdAt),
  status: record.status,
});

function service(ctx: RouteContext) {
  return requireService(ctx.deps, 'accessKeys');
}

export const accessKeyRoutes: RouteDef[] = [
  defineRoute({
    operation: 'access-key.create',
    method: 'POST',
    path: '/v1/sys/access-keys',
    summary:
      'Create (or import) a SigV4 access key; the secret is returned once. Without root, only for the caller’s own identity and policies',
    wrappable: true,
    mutating: true,
    response: api.AccessKeyCreated,
    statuses: [201],
    body: CreateBody,
    sensitive: ['secretAccessKey'],
    access: () => ({ path: 'sys/access-keys', capability: 'sudo' }),
    async handle({ body }, ctx) {
      const keys = service(ctx);
      const creator = ctx.principal;
      if (creator === undefined) throw new UnauthenticatedError('authentication required');
      await assertPoliciesExist(ctx.deps.policies, creator, body.policies ?? [], 'an access key', () =>
        ctx.isAllowed({ path: POLICY_LIST_PATH, capability: 'list' }),
      );
      const created =
        body.accessKeyId !== undefined && body.secretAccessKey !== undefined
          ? await keys.import(
              {
                accessKeyId: body.accessKeyId,
                secretAccessKey: body.secretAccessKey,
                principal: body.principal,
                policies: body.policies,
              },
              creator,
            )
          : await keys.create({ principal: body.principal, policies: body.policies }, creator);
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
    response: api.AccessKeyList,
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
    response: api.NoContent,
    statuses: [204],
    params: IdParam,
    access: () => ({ path: 'sys/access-keys', capability: 'sudo' }),
    async handle({ params }, ctx) {
      await service(ctx).delete(params.accessKeyId);
      return { status: 204, body: undefined };
    },
  }),
];
