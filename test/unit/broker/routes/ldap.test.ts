import { describe, expect, it } from 'vitest';
import { Broker } from '../../../../lambdas/broker/broker.ts';
import { nativeRoutes } from '../../../../lambdas/broker/routes/index.ts';
import { AUTH_MOUNT_PARTITIONS, AuthMountService } from '../../../../lambdas/core/auth/methods/auth-mount-service.ts';
import { buildAuthMethods } from '../../../../lambdas/core/auth/methods/registry.ts';
import { FakeKeyProvider } from '../../../support/fake-key-provider.ts';
import { fakeLdapDirectory } from '../../../support/fake-ldap-directory.ts';
import { memoryNode, request } from '../../../support/memory-node.ts';

const PEOPLE = 'ou=people,dc=example,dc=org';
const GROUPS = 'ou=groups,dc=example,dc=org';
const BIND_PASSWORD = 'service-account-password';
const ALICE_PASSWORD = 'alice-password-1';

const directory = () =>
  fakeLdapDirectory([
    { dn: `cn=svc,${PEOPLE}`, password: BIND_PASSWORD, attributes: { cn: ['svc'] } },
    { dn: `uid=alice,${PEOPLE}`, password: ALICE_PASSWORD, attributes: { uid: ['alice'] } },
    ...['team-a', 'team-b'].map((cn) => ({
      dn: `cn=${cn},${GROUPS}`,
      attributes: { cn: [cn], member: [`uid=alice,${PEOPLE}`] },
    })),
  ]);

async function ldapNode(options: { withDirectory?: boolean } = {}) {
  const node = await memoryNode();
  const { store, deps } = node;
  const methods = buildAuthMethods({
    store,
    clock: deps.clock,
    ...(options.withDirectory !== false && { ldap: directory() }),
  });
  const authMounts = new AuthMountService({
    store,
    clock: deps.clock,
    methods,
    tokens: deps.tokens,
    keyProvider: new FakeKeyProvider(),
  });
  const broker = new Broker({ ...deps, authMounts }, nativeRoutes(), () => {});
  const call = async (method: string, path: string, opts: Parameters<typeof request>[2] = {}) => {
    const res = await broker.handle(request(method, path, opts));
    return {
      status: res.status,
      body: res.body.length === 0 ? undefined : JSON.parse(res.body),
      requestId: res.headers['x-request-id'],
    };
  };
  const root = (method: string, path: string, body?: unknown) => call(method, path, { token: node.rootToken, body });
  const config = {
    url: 'ldaps://ldap.example.org',
    binddn: `cn=svc,${PEOPLE}`,
    bindpass: BIND_PASSWORD,
    userdn: PEOPLE,
    userattr: 'uid',
    groupdn: GROUPS,
  };
  const records = (requestId: string) => node.sink.records().filter((r) => r.requestId === requestId);
  return { ...node, call, root, config, records };
}

describe('Routes: the LDAP method', () => {
  it('keeps the service account password out of GET /v1/sys/auth and the audit log', async () => {
    const { root, config, sink, store } = await ldapNode();
    const enabled = await root('POST', '/v1/sys/auth/ldap', { type: 'ldap', config });
    expect(enabled.status).toBe(201);
    // Sealed at rest: the mount's record holds no password in clear.
    expect(JSON.stringify(await store.get(AUTH_MOUNT_PARTITIONS.mounts, 'ldap'))).not.toContain(BIND_PASSWORD);
    expect(enabled.body.config.bindpass).toBeUndefined();
    expect(enabled.body.config.bindpass_set).toBe(true);
    const listed = await root('GET', '/v1/sys/auth');
    expect(JSON.stringify(listed.body)).not.toContain(BIND_PASSWORD);
    expect(JSON.stringify(sink.records())).not.toContain(BIND_PASSWORD);
  });

  it('refuses auth enable ldap with a clear 400 where the runtime has no directory connector (AWS outside a VPC)', async () => {
    const { root, config } = await ldapNode({ withDirectory: false });
    const refused = await root('POST', '/v1/sys/auth/ldap', { type: 'ldap', config });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toContain('LDAP needs the broker in a VPC');
  });

  it('a token from several groups carries the ceiling of every writer: never more than each group’s writer could', async () => {
    const { root, call, config } = await ldapNode();
    expect((await root('POST', '/v1/sys/auth/ldap', { type: 'ldap', config })).status).toBe(201);
    for (const [name, path] of [
      ['read-a', 'secrets/a/*'],
      ['read-b', 'secrets/b/*'],
    ]) {
      await root('PUT', `/v1/sys/policies/${name}`, { rules: [{ path, capabilities: ['read'] }] });
    }
    await root('PUT', '/v1/sys/policies/ldap-writer', {
      rules: [{ path: 'auth/ldap/groups/*', capabilities: ['update'] }],
    });
    await root('PUT', '/v1/secret/data/a/key', { value: 'value a' });
    await root('PUT', '/v1/secret/data/b/key', { value: 'value b' });
    // team-a is written by a delegate holding read-a only; team-b by root.
    const delegate = await root('POST', '/v1/auth/token/create', { policies: ['read-a', 'ldap-writer'] });
    const delegateToken = delegate.body.auth?.client_token ?? delegate.body.token;
    const byDelegate = await call('PUT', '/v1/auth/ldap/groups/team-a', {
      token: delegateToken,
      body: { policies: ['read-a'] },
    });
    expect(byDelegate.status).toBe(200);
    expect((await root('PUT', '/v1/auth/ldap/groups/team-b', { policies: ['read-b'] })).status).toBe(200);
    // The delegate cannot grant what it lacks.
    const beyond = await call('PUT', '/v1/auth/ldap/groups/team-b', {
      token: delegateToken,
      body: { policies: ['read-b'] },
    });
    expect(beyond.status).toBe(403);

    const login = await call('POST', '/v1/auth/ldap/login', { body: { username: 'alice', password: ALICE_PASSWORD } });
    expect(login.status).toBe(200);
    expect(login.body.auth.policies).toEqual(['read-a', 'read-b']);
    const token = login.body.auth.client_token as string;
    expect((await call('GET', '/v1/secret/data/a/key', { token })).status).toBe(200);
    // read-b came with team-b, but team-a's writer could not read b: its ceiling binds the whole token.
    expect((await call('GET', '/v1/secret/data/b/key', { token })).status).toBe(403);
  });

  it('Vault’s login/<username>: the username and password only as HMACs in the audit log', async () => {
    const { root, call, config, records, sink } = await ldapNode();
    await root('POST', '/v1/sys/auth/ldap', { type: 'ldap', config });
    await root('PUT', '/v1/auth/ldap/users/alice', { policies: [] });
    const login = await call('POST', '/v1/auth/ldap/login/alice', { body: { password: ALICE_PASSWORD } });
    expect(login.status).toBe(200);
    expect(login.body.auth).toMatchObject({ mount_type: 'ldap', role_name: 'alice', metadata: { groups: '' } });
    expect(records(login.requestId!)[0]).toMatchObject({
      operation: 'ldap.login',
      path: 'auth/ldap/login',
      request: { username: expect.stringMatching(/^hmac-sha256:/), password: expect.stringMatching(/^hmac-sha256:/) },
    });
    // The success is a login like any other: method, mount, role, and the alias only as its HMAC.
    expect(records(login.requestId!)[1]).toMatchObject({
      outcome: 'ok',
      login: { method: 'ldap', mount: 'ldap', role: 'alice', alias: expect.stringMatching(/^hmac-sha256:/) },
    });
    const refused = await call('POST', '/v1/auth/ldap/login/alice', { body: { password: 'wrong' } });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toBe('invalid username or password');
    expect(records(refused.requestId!)[1]).toMatchObject({
      outcome: 'denied',
      denied: {
        path: 'auth/ldap/login',
        reason: expect.stringContaining('ldap login at auth/ldap refused: user bind refused'),
      },
    });
    expect(JSON.stringify(sink.records())).not.toContain(ALICE_PASSWORD);
  });

  it('writes entries only at groups/ and users/: the generic role route cannot plant one', async () => {
    const { root, config } = await ldapNode();
    await root('POST', '/v1/sys/auth/ldap', { type: 'ldap', config });
    const generic = await root('PUT', '/v1/auth/ldap/role/team-a', { kind: 'group', policies: [] });
    expect(generic.status).toBe(400);
    expect(generic.body.error.message).toContain('auth/ldap/groups/<name>');
    // Names fold to lower case (case_sensitive_names false), as the login looks them up.
    expect((await root('PUT', '/v1/auth/ldap/groups/Team-A', { policies: 'default-ish' })).status).toBe(400);
    expect((await root('PUT', '/v1/auth/ldap/users/Alice', { policies: [], groups: 'team-a, team-b' })).status).toBe(
      200,
    );
    expect((await root('GET', '/v1/auth/ldap/users/alice')).body).toMatchObject({ groups: ['team-a', 'team-b'] });
    expect((await root('GET', '/v1/auth/ldap/users')).body).toEqual({ names: ['alice'] });
    expect((await root('GET', '/v1/auth/ldap/groups')).body).toEqual({ names: [] });
  });
});
