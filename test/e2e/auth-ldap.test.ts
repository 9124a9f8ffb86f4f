import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoginResponse } from '../../lambdas/api/auth.ts';
import { api, runCli, tempDir } from '../support/server-process.ts';
import { GROUPS_DN, PEOPLE_DN, startSlapd, type TestSlapd, USERS } from '../support/slapd.ts';
import { useServer } from '../support/use-server.ts';

/**
 * Issue 12: directory users log in with their LDAP password through an LDAP mount backed by a real OpenLDAP slapd
 * (search-then-bind over LDAPS, groups from the group search), read what their group's policy allows and nothing
 * else; a wrong password and a user outside the mount's groups get a clear 403 and an audit record holding neither
 * the password nor the username in clear. Set-up and the first login go through the CLI.
 */

let slapd: TestSlapd;
const env: Record<string, string> = {};
beforeAll(async () => {
  slapd = await startSlapd();
  // Read by useServer's beforeAll, which runs after this one.
  env.COFFER_EGRESS_ALLOW = `127.0.0.1:${slapd.ldapsPort}`;
});
afterAll(async () => {
  await slapd?.stop();
});
const current = useServer(env);
const files = tempDir();
afterAll(() => files.cleanup());
const cli = (args: string[], input?: string) =>
  runCli(args, {
    env: { COFFER_ADDR: current().address, COFFER_TOKEN: current().rootToken },
    ...(input !== undefined && { input }),
  });

beforeAll(async () => {
  const { address, rootToken } = current();
  const root = (method: string, p: string, body?: unknown) => api(address, rootToken, method, p, body);
  const config = path.join(files.dir, 'ldap.json');
  writeFileSync(
    config,
    JSON.stringify({
      url: slapd.ldapsUrl,
      certificate: slapd.caPem,
      binddn: slapd.serviceDn,
      bindpass: slapd.servicePassword,
      userdn: PEOPLE_DN,
      userattr: 'uid',
      groupdn: GROUPS_DN,
      token_ttl: '20m',
    }),
  );
  const enabled = await cli(['auth', 'enable', 'ldap', '--config-file', config]);
  expect(enabled.code, enabled.stderr).toBe(0);
  expect(enabled.stdout).toContain('enabled ldap at auth/ldap/');
  for (const [name, prefix] of [
    ['engineering', 'secrets/eng/*'],
    ['carol-own', 'secrets/carol/*'],
  ]) {
    const put = await root('PUT', `/v1/sys/policies/${name}`, { rules: [{ path: prefix, capabilities: ['read'] }] });
    expect(put.status).toBeLessThan(300);
  }
  const group = await cli(['ldap', 'group', 'put', 'Engineers', '--policy', 'engineering']);
  expect(group.code, group.stderr).toBe(0);
  for (const name of ['eng/build-key', 'ops/pager-key', 'carol/key']) {
    expect((await root('PUT', `/v1/secret/data/${name}`, { value: `value of ${name}` })).status).toBeLessThan(300);
  }
});

const login = (username: string, password: string) =>
  api(current().address, undefined, 'POST', '/v1/auth/ldap/login', { username, password });

describe('LDAP auth: directory users log in', () => {
  it('shows the mount without the service account password, and the group entry as written', async () => {
    const listed = await cli(['auth', 'list', '-o', 'json']);
    expect(listed.stdout).not.toContain(slapd.servicePassword);
    const mount = (
      JSON.parse(listed.stdout) as { mounts: { path: string; config: Record<string, unknown> }[] }
    ).mounts.find((m) => m.path === 'ldap');
    expect(mount?.config).toMatchObject({ bindpass_set: true, binddn: slapd.serviceDn, starttls: false });
    expect(mount?.config).not.toHaveProperty('bindpass');
    const group = await cli(['ldap', 'group', 'get', 'engineers', '-o', 'json']);
    expect(JSON.parse(group.stdout)).toMatchObject({ kind: 'group', policies: ['engineering'] });
    const list = await cli(['ldap', 'group', 'list']);
    expect(list.stdout.trim()).toBe('engineers');
  });

  it('coffer login --method ldap (password on stdin): a token reading inside the group policy and not outside', async () => {
    const loggedIn = await runCli(['login', '--method', 'ldap', '--username', 'alice', '-o', 'json'], {
      env: { COFFER_ADDR: current().address },
      input: `${USERS.alice.password}\n`,
    });
    expect(loggedIn.code, loggedIn.stderr).toBe(0);
    const { auth } = JSON.parse(loggedIn.stdout) as {
      auth: { client_token: string; policies: string[]; metadata: Record<string, string>; lease_duration: number };
    };
    expect(auth.policies).toEqual(['engineering']);
    expect(auth.metadata).toEqual({ username: 'alice', groups: 'engineers' });
    expect(auth.lease_duration).toBe(1200);
    const { address } = current();
    const allowed = await api(address, auth.client_token, 'GET', '/v1/secret/data/eng/build-key');
    expect(allowed.status).toBe(200);
    expect(JSON.stringify(allowed.body)).toContain('value of eng/build-key');
    expect((await api(address, auth.client_token, 'GET', '/v1/secret/data/ops/pager-key')).status).toBe(403);
  });

  it("Vault's login/<username> path and --password-file work alike", async () => {
    const res = await api(current().address, undefined, 'POST', '/v1/auth/ldap/login/alice', {
      password: USERS.alice.password,
    });
    expect(res.status).toBe(200);
    expect((res.body as LoginResponse).auth.policies).toEqual(['engineering']);
    const passwordFile = path.join(files.dir, 'password');
    writeFileSync(passwordFile, USERS.alice.password, { mode: 0o600 });
    const viaFile = await runCli(
      ['login', '--method', 'ldap', '--username', 'alice', '--password-file', passwordFile, '--field', 'token'],
      { env: { COFFER_ADDR: current().address } },
    );
    expect(viaFile.code, viaFile.stderr).toBe(0);
    expect(viaFile.stdout.trim()).toMatch(/^\S+$/);
  });

  it('a wrong password: 403 that names nothing, an audit record without the password or the username', async () => {
    const password = 'definitely-wrong-password';
    const res = await login('alice', password);
    expect(res.status).toBe(403);
    expect(res.body.error?.message).toBe('invalid username or password');
    expectAudited(res.requestId!, 'ldap login at auth/ldap refused: user bind refused', [password]);
    // An unknown user answers the same.
    const unknown = await login('nobody-here', password);
    expect(unknown.status).toBe(403);
    expect(unknown.body.error?.message).toBe('invalid username or password');
    const refused = await runCli(['login', '--method', 'ldap', '--username', 'alice'], {
      env: { COFFER_ADDR: current().address, COFFER_PASSWORD: password },
    });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('invalid username or password');
  });

  it('a user in none of the mount groups: 403 and an audit record; a user entry then admits them', async () => {
    const res = await login('carol', USERS.carol.password);
    expect(res.status).toBe(403);
    expect(res.body.error?.message).toBe("user is in none of the mount's groups");
    expectAudited(res.requestId!, 'match no group or user entry of the mount', [USERS.carol.password, 'carol']);
    const user = await cli(['ldap', 'user', 'put', 'carol', '--policy', 'carol-own']);
    expect(user.code, user.stderr).toBe(0);
    const admitted = await login('carol', USERS.carol.password);
    expect(admitted.status).toBe(200);
    const { auth } = admitted.body as LoginResponse;
    expect(auth.policies).toEqual(['carol-own']);
    const token = auth.client_token;
    expect((await api(current().address, token, 'GET', '/v1/secret/data/carol/key')).status).toBe(200);
    expect((await api(current().address, token, 'GET', '/v1/secret/data/eng/build-key')).status).toBe(403);
  });

  it('refuses an ldap:// URL without StartTLS at enable, saying how to fix it', async () => {
    const config = path.join(files.dir, 'plain.json');
    writeFileSync(config, JSON.stringify({ url: slapd.url, userdn: PEOPLE_DN }));
    const refused = await cli(['auth', 'enable', 'ldap', '--path', 'plain', '--config-file', config]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('would send passwords in clear');
    expect(refused.stderr).toContain('insecure_plaintext');
  });
});

/** The audit log holds the refusal of `requestId` with its reason, and none of `secrets` in clear. */
function expectAudited(requestId: string, reason: string, secrets: readonly string[]): void {
  const log = readFileSync(path.join(current().dataDir, 'audit', 'audit.log'), 'utf8');
  const lines = log.split('\n').filter((line) => line.includes(requestId));
  expect(lines.length).toBeGreaterThan(0);
  expect(lines.join('\n')).toContain(reason.replaceAll('"', '\\"'));
  for (const secret of secrets) expect(lines.join('\n')).not.toContain(`"${secret}"`);
  expect(log).not.toContain(slapd.servicePassword);
}
