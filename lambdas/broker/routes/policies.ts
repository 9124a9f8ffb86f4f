import { z } from 'zod';
import { CAPABILITIES } from '../../core/policy/policy-types.ts';
import { defineRoute, type RouteDef } from '../route.ts';

const NameParam = z.object({ name: z.string().min(1).max(128) });

const TestBody = z
  .object({
    path: z.string().min(1).max(1024),
    capability: z.enum(CAPABILITIES).exclude(['deny']),
    /** Policies to evaluate; @default the caller's own. */
    policies: z.array(z.string().min(1).max(128)).max(64).optional(),
    sourceIp: z.string().max(64).optional(),
    /** ISO-8601 instant to evaluate time conditions at; @default now. */
    at: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

export const policyRoutes: RouteDef[] = [
  defineRoute({
    operation: 'policy.list',
    method: 'GET',
    path: '/v1/sys/policies',
    summary: 'List policy names',
    mutating: false,
    access: () => ({ path: 'sys/policies', capability: 'list' }),
    async handle(_input, { deps }) {
      return { body: { policies: await deps.policies.list() } };
    },
  }),
  defineRoute({
    operation: 'policy.read',
    method: 'GET',
    path: '/v1/sys/policies/{name}',
    summary: 'Read a policy document',
    mutating: false,
    params: NameParam,
    access: ({ params }) => ({ path: `sys/policies/${params.name}`, capability: 'read' }),
    async handle({ params }, { deps }) {
      return { body: await deps.policies.get(params.name) };
    },
  }),
  defineRoute({
    operation: 'policy.write',
    method: 'PUT',
    path: '/v1/sys/policies/{name}',
    summary: 'Create or replace a policy document',
    mutating: true,
    params: NameParam,
    // The document's own schema lives in the core; the broker only insists on an object here.
    body: z.object({ description: z.string().optional(), rules: z.array(z.unknown()) }).passthrough(),
    access: ({ params }) => ({ path: `sys/policies/${params.name}`, capability: 'update' }),
    async handle({ params, body }, { deps }) {
      await deps.policies.put({ ...body, name: params.name });
      return { body: await deps.policies.get(params.name) };
    },
  }),
  defineRoute({
    operation: 'policy.delete',
    method: 'DELETE',
    path: '/v1/sys/policies/{name}',
    summary: 'Delete a policy',
    mutating: true,
    params: NameParam,
    access: ({ params }) => ({ path: `sys/policies/${params.name}`, capability: 'delete' }),
    async handle({ params }, { deps }) {
      await deps.policies.delete(params.name);
      return { body: { name: params.name, deleted: true } };
    },
  }),
  defineRoute({
    operation: 'policy.test',
    method: 'POST',
    path: '/v1/sys/policy-test',
    summary: 'Explain whether a request would be allowed, naming the rule that decided',
    mutating: false,
    body: TestBody,
    access: () => ({ path: 'sys/policy-test', capability: 'read' }),
    async handle({ body }, { deps, principal, request }) {
      const names = body.policies ?? principal?.policies ?? [];
      const subject = principal ?? { type: 'token' as const, id: '', displayName: '', policies: names, metadata: {} };
      const decision = await deps.policies.test(
        {
          path: body.path,
          capability: body.capability,
          principal: { ...subject, policies: names },
          context: {
            requestId: request.requestId,
            sourceIp: body.sourceIp ?? request.sourceIp,
            now: body.at === undefined ? request.now : Date.parse(body.at),
          },
        },
        names,
      );
      return { body: { policies: names, ...decision } };
    },
  }),
];
