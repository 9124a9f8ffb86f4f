import { z } from 'zod';
import { parseDuration } from '../../core/duration.ts';
import { InvalidRequestError } from '../../core/errors.ts';
import { AwsRoleSchema } from '../../engines/aws/aws-engine.ts';
import type { BrokerDeps } from '../broker-deps.ts';
import { defineRoute, type RouteDef } from '../route.ts';
import { describeLease } from './leases.ts';

/** Short-lived AWS credentials (STS AssumeRole with an inline session policy) under leases: policy paths `aws/...`. */
const RoleName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a role name is 1–63 of a-z, 0-9, _ and -');
const NameParam = z.object({ name: RoleName });
const RoleParam = z.object({ role: RoleName });
const TtlBody = z
  .object({ ttl: z.union([z.string().max(32), z.number().int().min(1)]).optional() })
  .strict()
  .describe('e.g. "15m"; capped by the role and by STS (15 min–12 h)');

function engine(deps: BrokerDeps) {
  if (deps.aws === undefined) throw new InvalidRequestError('the aws engine is not enabled on this runtime');
  return deps.aws;
}

function leases(deps: BrokerDeps) {
  if (deps.leases === undefined) throw new InvalidRequestError('leases are not enabled on this runtime');
  return deps.leases;
}

function issueRoute(method: 'GET' | 'POST') {
  return defineRoute({
    operation: method === 'GET' ? 'aws.creds.read' : 'aws.creds.issue',
    method,
    path: '/v1/aws/creds/{role}',
    summary: 'Issue STS credentials for a role under a new lease (access key, secret key, session token)',
    // Creates a session and a lease: audited durably even as a GET.
    mutating: true,
    params: RoleParam,
    ...(method === 'POST' ? { body: TtlBody } : {}),
    sensitive: ['secretAccessKey', 'sessionToken'],
    access: ({ params }) => ({ path: `aws/creds/${params.role}`, capability: method === 'GET' ? 'read' : 'update' }),
    async handle({ params, body }, { deps, principal }) {
      const ttl = (body as z.infer<typeof TtlBody> | undefined)?.ttl;
      const { lease, credential } = await leases(deps).issue({
        kind: 'aws',
        role: params.role,
        principalId: principal?.id ?? 'anonymous',
        ttlSeconds: ttl === undefined ? undefined : parseDuration(ttl),
      });
      return {
        body: {
          ...describeLease(lease),
          leaseDuration: Math.round((lease.expiresAt - deps.clock.now()) / 1000),
          renewable: false,
          ...credential,
        },
      };
    },
  });
}

export const awsRoutes: RouteDef[] = [
  defineRoute({
    operation: 'aws.role.write',
    method: 'PUT',
    path: '/v1/aws/roles/{name}',
    summary: 'Create or replace an AWS role: the IAM role to assume, an inline session policy and TTLs',
    mutating: true,
    params: NameParam,
    body: AwsRoleSchema,
    access: ({ params }) => ({ path: `aws/roles/${params.name}`, capability: 'update' }),
    async handle({ params, body }, { deps }) {
      return { body: { name: params.name, ...(await engine(deps).putRole(params.name, body)) } };
    },
  }),
  defineRoute({
    operation: 'aws.role.read',
    method: 'GET',
    path: '/v1/aws/roles/{name}',
    summary: 'Read an AWS role',
    mutating: false,
    params: NameParam,
    access: ({ params }) => ({ path: `aws/roles/${params.name}`, capability: 'read' }),
    async handle({ params }, { deps }) {
      return { body: { name: params.name, ...(await engine(deps).getRole(params.name)) } };
    },
  }),
  issueRoute('GET'),
  issueRoute('POST'),
];
