import * as z from 'zod';
import * as api from '../../api/index.ts';
import { AwsRoleSchema } from '../../engines/aws/aws-engine.ts';
import type { BrokerDeps } from '../broker-deps.ts';
import { requireService } from '../features.ts';
import { defineRoute, type RouteDef } from '../route.ts';
import { credsRoutes } from './creds.ts';

/** Short-lived AWS credentials (STS AssumeRole with an inline session policy) under leases: policy paths `aws/...`. */
const RoleName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a role name is 1–63 of a-z, 0-9, _ and -');
const NameParam = z.object({ name: RoleName });

function engine(deps: BrokerDeps) {
  return requireService(deps, 'aws');
}

const rolePath = (name: string) => `aws/roles/${name}`;

export const awsRoutes: RouteDef[] = [
  defineRoute({
    operation: 'aws.role.list',
    method: 'GET',
    path: '/v1/aws/roles',
    summary: 'List AWS roles (names only)',
    mutating: false,
    response: api.AwsRoleList,
    access: () => ({ path: 'aws/roles', capability: 'list' }),
    async handle(_input, { deps }) {
      return { body: { roles: await engine(deps).listRoles() } };
    },
  }),
  defineRoute({
    operation: 'aws.role.write',
    method: 'PUT',
    path: '/v1/aws/roles/{name}',
    summary: 'Create or replace an AWS role: the IAM role to assume, an inline session policy and TTLs',
    mutating: true,
    response: api.AwsRole,
    params: NameParam,
    body: AwsRoleSchema,
    access: ({ params }) => ({ path: rolePath(params.name), capability: 'update' }),
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
    response: api.AwsRole,
    params: NameParam,
    access: ({ params }) => ({ path: rolePath(params.name), capability: 'read' }),
    async handle({ params }, { deps }) {
      return { body: { name: params.name, ...(await engine(deps).getRole(params.name)) } };
    },
  }),
  defineRoute({
    operation: 'aws.role.delete',
    method: 'DELETE',
    path: '/v1/aws/roles/{name}',
    summary: 'Delete an AWS role (its live leases stay listed and revocable; their STS sessions end at their expiry)',
    mutating: true,
    response: api.NoContent,
    statuses: [204],
    params: NameParam,
    access: ({ params }) => ({ path: rolePath(params.name), capability: 'delete' }),
    async handle({ params }, { deps }) {
      await engine(deps).deleteRole(params.name);
      return { status: 204, body: undefined };
    },
  }),
  ...credsRoutes({
    kind: 'aws',
    engine: 'aws',
    role: RoleName,
    summary: 'Issue STS credentials for a role under a new lease (access key, secret key, session token)',
    sensitive: ['secretAccessKey', 'sessionToken'],
    // STS sessions end at their own expiry; renewing the lease could not extend them.
    renewable: false,
    response: api.AwsCredential,
  }),
];
