import * as z from 'zod';
import * as api from '../../api/auth.ts';
import { NoContent } from '../../api/common.ts';
import { assertPoliciesExist, POLICY_LIST_PATH } from '../../core/auth/derived-credentials.ts';
import { type LdapEntry, LdapEntryNameSchema, type LdapMountConfig } from '../../core/auth/ldap/ldap-config.ts';
import { entryKey } from '../../core/auth/ldap/ldap-method.ts';
import { MountPathSchema } from '../../core/auth/methods/auth-mount-service.ts';
import { UnauthenticatedError } from '../../core/errors.ts';
import { requireService } from '../features.ts';
import { defineRoute, type RouteContext, type RouteDef } from '../route.ts';
import { loginAnswer } from './auth.ts';

/**
 * The LDAP method's own paths, as Vault has them: `auth/<mount>/groups/<name>` and `auth/<mount>/users/<name>` (the
 * policies of a directory group, of one user), stored as the mount's roles, and `auth/<mount>/login/<username>`.
 */

const KINDS = { groups: 'group', users: 'user' } as const;
const KindSchema = z.enum(['groups', 'users']);
const MountParam = z.object({ mount: MountPathSchema });
const NameParams = z.object({ mount: MountPathSchema, name: LdapEntryNameSchema });
const EntryBody = z.record(z.string(), z.unknown());
const LoginParams = z.object({ mount: MountPathSchema, username: z.string().min(1).max(256) });
/** Only `password`: any other key is refused before the request is audited (see LOGIN_FIELDS in auth.ts). */
const LoginBody = z.partialRecord(z.enum(['password']), z.unknown());

type Kind = z.infer<typeof KindSchema>;
const mountsOf = (ctx: RouteContext) => requireService(ctx.deps, 'authMounts');

/** The LDAP mount at `mount` and the key its entry `name` of `kind` is stored under (names folded as it says). */
async function entryOf(ctx: RouteContext, kind: Kind, params: { mount: string; name: string }) {
  const { mount } = await mountsOf(ctx).mountOf(params.mount, 'ldap');
  const config = mount.config as LdapMountConfig;
  return { key: entryKey(config, KINDS[kind], params.name) };
}

function describeEntry(kind: Kind, params: { mount: string; name: string }, entry: LdapEntry): api.LdapEntryView {
  return {
    name: params.name,
    mount: params.mount,
    kind: KINDS[kind],
    policies: [...entry.policies],
    ...(entry.kind === 'user' && { groups: [...entry.groups] }),
  };
}

export const ldapRoutes: RouteDef[] = [
  defineRoute({
    operation: 'ldap.login',
    method: 'POST',
    path: '/v1/auth/{mount}/login/{username}',
    summary: "Log in to an LDAP mount as Vault's clients do: the username in the path, { password } in the body",
    auth: 'none',
    mutating: true,
    response: api.LoginResponse,
    params: LoginParams,
    body: LoginBody,
    sensitive: ['password', 'username', 'client_token', 'accessor'],
    resource: ({ params }) => `auth/${params.mount}/login`,
    async handle({ params, body }, ctx) {
      return loginAnswer(await mountsOf(ctx).login(params.mount, { ...body, username: params.username }, ctx.request));
    },
  }),
  ...entryRoutes('groups'),
  ...entryRoutes('users'),
];

/** Vault's `groups/<name>` and `users/<name>`: the same four routes for each kind of entry. */
function entryRoutes(kind: Kind): RouteDef[] {
  return [
    defineRoute({
      operation: `ldap.${KINDS[kind]}.list`,
      method: 'GET',
      path: `/v1/auth/{mount}/${kind}`,
      summary: 'List the groups or users of an LDAP mount (names only)',
      mutating: false,
      response: api.LdapEntryList,
      params: MountParam,
      access: ({ params }) => ({ path: `auth/${params.mount}/${kind}`, capability: 'list' }),
      async handle({ params }, ctx) {
        await mountsOf(ctx).mountOf(params.mount, 'ldap');
        const prefix = `${KINDS[kind]}s/`;
        const names = (await mountsOf(ctx).listRoles(params.mount, prefix)).map((key) => key.slice(prefix.length));
        return { body: { names } };
      },
    }),
    defineRoute({
      operation: `ldap.${KINDS[kind]}.put`,
      method: 'PUT',
      path: `/v1/auth/{mount}/${kind}/{name}`,
      summary:
        'Create or replace an LDAP group or user entry (its policies; a user also its extra groups); it may grant only ' +
        'policies its writer holds, and they must exist',
      mutating: true,
      response: api.LdapEntryView,
      params: NameParams,
      body: EntryBody,
      access: ({ params }) => ({ path: `auth/${params.mount}/${kind}/${params.name}`, capability: 'update' }),
      async handle({ params, body }, ctx) {
        const writer = ctx.principal;
        if (writer === undefined) throw new UnauthenticatedError('authentication required');
        const { key } = await entryOf(ctx, kind, params);
        const entry = await mountsOf(ctx).putRole(
          writer,
          params.mount,
          key,
          { ...body, kind: KINDS[kind] },
          (policies) =>
            assertPoliciesExist(ctx.deps.policies, writer, policies, `an LDAP ${KINDS[kind]}`, () =>
              ctx.isAllowed({ path: POLICY_LIST_PATH, capability: 'list' }),
            ),
        );
        return { body: describeEntry(kind, params, entry as LdapEntry) };
      },
    }),
    defineRoute({
      operation: `ldap.${KINDS[kind]}.get`,
      method: 'GET',
      path: `/v1/auth/{mount}/${kind}/{name}`,
      summary: 'Read an LDAP group or user entry',
      mutating: false,
      response: api.LdapEntryView,
      params: NameParams,
      access: ({ params }) => ({ path: `auth/${params.mount}/${kind}/${params.name}`, capability: 'read' }),
      async handle({ params }, ctx) {
        const { key } = await entryOf(ctx, kind, params);
        const entry = (await mountsOf(ctx).getRole(params.mount, key)) as LdapEntry;
        return { body: describeEntry(kind, params, entry) };
      },
    }),
    defineRoute({
      operation: `ldap.${KINDS[kind]}.delete`,
      method: 'DELETE',
      path: `/v1/auth/{mount}/${kind}/{name}`,
      summary: 'Delete an LDAP group or user entry: its members no longer get its policies at login',
      mutating: true,
      response: NoContent,
      statuses: [204],
      params: NameParams,
      access: ({ params }) => ({ path: `auth/${params.mount}/${kind}/${params.name}`, capability: 'delete' }),
      async handle({ params }, ctx) {
        const { key } = await entryOf(ctx, kind, params);
        await mountsOf(ctx).deleteRole(params.mount, key);
        return { status: 204, body: undefined };
      },
    }),
  ];
}
