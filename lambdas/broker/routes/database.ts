import * as z from 'zod';
import * as api from '../../api/index.ts';
import type { StoredDbConfig } from '../../engines/database/database-engine.ts';
import { DbConfigSchema, DbObjectNameSchema, DbRoleSchema } from '../../engines/database/database-types.ts';
import type { BrokerDeps } from '../broker-deps.ts';
import { requireService } from '../features.ts';
import { defineRoute, type RouteDef } from '../route.ts';
import { credsRoutes } from './creds.ts';
import { grantOf, iso } from './wire.ts';

const NameParam = z.object({ name: DbObjectNameSchema });

function engine(deps: BrokerDeps) {
  return requireService(deps, 'database');
}

const configPath = (name: string) => `database/config/${name}`;

/** A stored config on the wire: the grant's time as ISO-8601. */
function describeConfig(config: StoredDbConfig) {
  const { grant, ...rest } = config;
  return grant === undefined ? rest : { ...rest, grant: { ...grant, grantedAt: iso(grant.grantedAt) } };
}
const rolePath = (name: string) => `database/roles/${name}`;

export const databaseRoutes: RouteDef[] = [
  defineRoute({
    operation: 'database.config.list',
    method: 'GET',
    path: '/v1/database/config',
    summary: 'List database connection configs',
    mutating: false,
    response: api.DbConfigList,
    access: () => ({ path: 'database/config', capability: 'list' }),
    async handle(_input, { deps }) {
      return { body: { configs: await engine(deps).listConfigs() } };
    },
  }),
  defineRoute({
    operation: 'database.config.write',
    method: 'PUT',
    path: '/v1/database/config/{name}',
    summary: 'Create or replace a connection config (its admin credential is the Coffer secret named admin_secret)',
    mutating: true,
    response: api.DbConfig,
    params: NameParam,
    body: DbConfigSchema,
    access: ({ params }) => ({ path: configPath(params.name), capability: 'update' }),
    // The engine logs in with the admin credential in that secret whenever a role issues: only a caller who may
    // read it may point a connection at it.
    references: async ({ body }) => [{ path: `secrets/${body.admin_secret}`, capability: 'read' }],
    async handle({ params, body }, ctx) {
      const config = await engine(ctx.deps).putConfig(params.name, body, grantOf(ctx));
      return { body: { name: params.name, ...describeConfig(config) } };
    },
  }),
  defineRoute({
    operation: 'database.config.read',
    method: 'GET',
    path: '/v1/database/config/{name}',
    summary: 'Read a connection config',
    mutating: false,
    response: api.DbConfig,
    params: NameParam,
    access: ({ params }) => ({ path: configPath(params.name), capability: 'read' }),
    async handle({ params }, { deps }) {
      return { body: { name: params.name, ...describeConfig(await engine(deps).getConfig(params.name)) } };
    },
  }),
  defineRoute({
    operation: 'database.config.delete',
    method: 'DELETE',
    path: '/v1/database/config/{name}',
    summary: 'Delete a connection config',
    mutating: true,
    response: api.NoContent,
    statuses: [204],
    params: NameParam,
    access: ({ params }) => ({ path: configPath(params.name), capability: 'delete' }),
    async handle({ params }, { deps }) {
      await engine(deps).deleteConfig(params.name);
      return { status: 204, body: undefined };
    },
  }),
  defineRoute({
    operation: 'database.role.list',
    method: 'GET',
    path: '/v1/database/roles',
    summary: 'List database roles',
    mutating: false,
    response: api.DbRoleList,
    access: () => ({ path: 'database/roles', capability: 'list' }),
    async handle(_input, { deps }) {
      return { body: { roles: await engine(deps).listRoles() } };
    },
  }),
  defineRoute({
    operation: 'database.role.write',
    method: 'PUT',
    path: '/v1/database/roles/{name}',
    summary: 'Create or replace a role: statements, username template, password policy, TTLs, lease quota',
    mutating: true,
    response: api.DbRole,
    params: NameParam,
    body: DbRoleSchema,
    access: ({ params }) => ({ path: rolePath(params.name), capability: 'update' }),
    // A role's statements run as the connection's admin: writing one is using that admin connection.
    references: async ({ body }) => [{ path: configPath(body.db_name), capability: 'update' }],
    async handle({ params, body }, { deps }) {
      return { body: { name: params.name, ...(await engine(deps).putRole(params.name, body)) } };
    },
  }),
  defineRoute({
    operation: 'database.role.read',
    method: 'GET',
    path: '/v1/database/roles/{name}',
    summary: 'Read a role',
    mutating: false,
    response: api.DbRole,
    params: NameParam,
    access: ({ params }) => ({ path: rolePath(params.name), capability: 'read' }),
    async handle({ params }, { deps }) {
      return { body: { name: params.name, ...(await engine(deps).getRole(params.name)) } };
    },
  }),
  defineRoute({
    operation: 'database.role.delete',
    method: 'DELETE',
    path: '/v1/database/roles/{name}',
    summary: 'Delete a role (its live leases stay revocable)',
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
    kind: 'database',
    engine: 'database',
    role: DbObjectNameSchema,
    summary: 'Issue a database user under a new lease (username, password, lease id and TTL)',
    sensitive: ['password'],
    renewable: true,
    response: api.DatabaseCredential,
  }),
];
