import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CofferClient } from '../../lambdas/sdk/client.ts';
import { CofferAccessDeniedError } from '../../lambdas/sdk/errors.ts';
import { api, COFFER_BIN, runCli, tempDir } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';
import { waitFor } from '../support/wait-for.ts';
import { makeKey, type TestKey } from '../unit/core/auth/jwt/jwt-test-issuer.ts';

/**
 * Issue 12: `coffer agent` logs in by itself (auto_auth with AppRole and JWT), renders templates with the token it
 * got, writes it to a sink, and logs in again when its token cannot be renewed any further; the SDK logs in the same
 * way. Against the real server; the JWT mount verifies with a static key, so no issuer is needed.
 */

const AUDIENCE = 'https://coffer.example.com';

const current = useServer();
let key: TestKey;
let roleId: string;
let shortRoleId: string;

const root = (method: string, p: string, body?: unknown) =>
  api(current().address, current().rootToken, method, p, body);

async function ok(method: string, p: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await root(method, p, body);
  expect(res.status, `${method} ${p}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  return res.body as Record<string, unknown>;
}

const secretId = async (role: string) =>
  (await ok('POST', `/v1/auth/approle/role/${role}/secret-id`, {})).secret_id as string;

const jwtFor = (build: string) =>
  key.sign({
    iss: 'https://ci.example.com',
    aud: AUDIENCE,
    sub: 'pipeline:web',
    build,
    iat: Math.floor(Date.now() / 1000),
    exp: Math.floor(Date.now() / 1000) + 600,
  });

/** Successful logins through a mount, from the server's audit log. */
function logins(mount: string): number {
  const log = readFileSync(path.join(current().dataDir, 'audit', 'audit.log'), 'utf8');
  return log
    .split('\n')
    .filter((line) => line.includes('"operation":"auth.login"') && line.includes(`"path":"auth/${mount}/login"`))
    .map((line) => JSON.parse(line) as { type: string; outcome?: string })
    .filter((record) => record.type === 'response' && record.outcome === 'ok').length;
}

beforeAll(async () => {
  key = await makeKey('ES256');
  await ok('PUT', '/v1/sys/policies/web-read', { rules: [{ path: 'secrets/web/*', capabilities: ['read'] }] });
  await ok('PUT', '/v1/secret/data/web/db', { value: 'web-db-1' });
  await ok('PUT', '/v1/secret/data/billing/db', { value: 'billing-db' });
  await ok('POST', '/v1/sys/auth/approle', { type: 'approle' });
  await ok('PUT', '/v1/auth/approle/role/web', { token_policies: ['web-read'], token_ttl: '10m' });
  // A token that lives 2 s and can be renewed up to 4 s after its login: the agent must log in again.
  await ok('PUT', '/v1/auth/approle/role/short', { token_policies: ['web-read'], token_ttl: 2, token_max_ttl: 4 });
  roleId = (await ok('GET', '/v1/auth/approle/role/web/role-id')).role_id as string;
  shortRoleId = (await ok('GET', '/v1/auth/approle/role/short/role-id')).role_id as string;
  await ok('POST', '/v1/sys/auth/ci', { type: 'jwt', config: { jwt_validation_pubkeys: [key.pem] } });
  await ok('PUT', '/v1/auth/ci/role/deploy', {
    bound_audiences: [AUDIENCE],
    claim_mappings: { build: 'build' },
    token_policies: ['web-read'],
    token_ttl: 2,
    token_max_ttl: 3,
  });
});

interface Agent {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
}

describe('coffer agent: auto_auth with a login method', () => {
  let tmp: { dir: string; cleanup: () => void };
  const agents: Agent[] = [];
  beforeEach(() => {
    tmp = tempDir('coffer-agent-auth-');
  });
  afterEach(async () => {
    for (const agent of agents.splice(0)) {
      if (agent.child.exitCode !== null || agent.child.signalCode !== null) continue;
      agent.child.kill('SIGTERM');
      await agent.exited;
    }
    tmp.cleanup();
  });

  const file = (name: string) => path.join(tmp.dir, name);

  function startAgent(config: object): Agent {
    writeFileSync(file('agent.json'), JSON.stringify(config));
    const child = spawn(process.execPath, [COFFER_BIN, 'agent', '--config', file('agent.json')], {
      // No token: the agent has only what its auto_auth block names.
      env: { ...process.env, COFFER_ADDR: current().address, COFFER_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const agent = { child, exited, output: () => out };
    agents.push(agent);
    return agent;
  }

  const slowly = (agent: Agent) => ({ timeoutMs: 45_000, intervalMs: 100, detail: agent.output });
  const sinkToken = () => (existsSync(file('token')) ? readFileSync(file('token'), 'utf8') : undefined);

  it('logs in with AppRole, removes the secret id file, renders a template and writes the token sink', async () => {
    const secret = await secretId('web');
    writeFileSync(file('role-id'), `${roleId}\n`);
    writeFileSync(file('secret-id'), `${secret}\n`, { mode: 0o600 });
    const agent = startAgent({
      auto_auth: { method: 'approle', role_id_file: 'role-id', secret_id_file: 'secret-id' },
      sink: { path: 'token' },
      poll_interval: '200ms',
      templates: [{ contents: 'password={{ secret "web/db" }}\n', destination: 'db.conf' }],
    });
    await waitFor('the template', () => existsSync(file('db.conf')), slowly(agent));
    expect(readFileSync(file('db.conf'), 'utf8')).toBe('password=web-db-1\n');
    expect(existsSync(file('secret-id'))).toBe(false);

    const token = sinkToken()!;
    expect(token).toMatch(/^cft_/);
    expect(statSync(file('token')).mode & 0o777).toBe(0o600);
    const self = await api(current().address, token, 'GET', '/v1/auth/token/lookup-self');
    expect(self.body).toMatchObject({ policies: ['web-read'], identity: { name: 'approle/web' } });
    // The token is the role's: outside its policy it reads nothing.
    expect((await api(current().address, token, 'GET', '/v1/secret/data/billing/db')).status).toBe(403);

    expect(agent.output()).toContain('logged in (approle login at auth/approle, role web)');

    // Revoked: the next poll is refused, lookup-self confirms the token is gone, and the agent logs in again with the
    // secret id it kept in memory (its file is gone).
    expect((await api(current().address, token, 'POST', '/v1/auth/token/revoke-self', {})).status).toBe(204);
    const replaced = await waitFor(
      'a new token in the sink',
      () => {
        const next = sinkToken();
        return next !== undefined && next !== token ? next : undefined;
      },
      slowly(agent),
    );
    expect(agent.output()).toContain('re-authenticating: the server no longer accepts the token');
    await ok('PUT', '/v1/secret/data/web/db', { value: 'web-db-3' });
    await waitFor(
      'the new value',
      () => readFileSync(file('db.conf'), 'utf8') === 'password=web-db-3\n',
      slowly(agent),
    );
    await ok('PUT', '/v1/secret/data/web/db', { value: 'web-db-1' });
    for (const credential of [roleId, secret, token, replaced]) expect(agent.output()).not.toContain(credential);
  });

  it('logs in again when the token reaches its max TTL, and keeps rendering with the new token', async () => {
    writeFileSync(file('role-id'), shortRoleId);
    writeFileSync(file('secret-id'), await secretId('short'));
    const before = logins('approle');
    const agent = startAgent({
      auto_auth: { method: 'approle', role_id_file: 'role-id', secret_id_file: 'secret-id' },
      sink: { path: 'token' },
      poll_interval: '200ms',
      templates: [{ contents: '{{ secret "web/db" }}', destination: 'db.conf' }],
    });
    const tokens = new Set<string>();
    await waitFor(
      'three logins, each token written to the sink',
      () => {
        const token = sinkToken();
        if (token !== undefined) tokens.add(token);
        return tokens.size >= 3;
      },
      { ...slowly(agent), intervalMs: 25 },
    );
    expect(logins('approle') - before).toBeGreaterThanOrEqual(3);
    expect(agent.output()).toMatch(/re-authenticating: the token reached its max TTL/);

    // The remembered secret id served the later logins; the agent still reads with whatever token is current.
    await ok('PUT', '/v1/secret/data/web/db', { value: 'web-db-2' });
    await waitFor('the new value', () => readFileSync(file('db.conf'), 'utf8') === 'web-db-2', slowly(agent));
    await ok('PUT', '/v1/secret/data/web/db', { value: 'web-db-1' });
  });

  it('logs in with a JWT from a file and uses the rotated file at the next login', async () => {
    writeFileSync(file('jwt'), await jwtFor('1'));
    const agent = startAgent({
      auto_auth: { method: 'jwt', mount: 'ci', role: 'deploy', path: 'jwt' },
      sink: { path: 'token' },
      poll_interval: '200ms',
      templates: [{ contents: '{{ secret "web/db" }}', destination: 'db.conf' }],
    });
    await waitFor('the template', () => existsSync(file('db.conf')), slowly(agent));
    const build = async () => {
      const token = sinkToken();
      if (token === undefined) return undefined;
      const self = await api(current().address, token, 'GET', '/v1/auth/token/lookup-self');
      return self.status === 200
        ? (self.body as { identity: { metadata: { build?: string } } }).identity.metadata.build
        : undefined;
    };
    expect(await build()).toBe('1');

    // Rotated as a CI runner or a sidecar does: a new file renamed over the old one.
    writeFileSync(file('jwt.next'), await jwtFor('2'));
    renameSync(file('jwt.next'), file('jwt'));
    await waitFor('a login with the rotated JWT', async () => (await build()) === '2', slowly(agent));
    expect(readFileSync(file('db.conf'), 'utf8')).toBe('web-db-1');
    expect(agent.output()).not.toContain(readFileSync(file('jwt'), 'utf8'));
  });
});

describe('coffer agent: auto_auth with a projected service-account token', () => {
  const files = tempDir('coffer-agent-k8s-');
  afterAll(() => files.cleanup());

  // A pod's projected service-account token, checked offline against the cluster's keys (the JWKS mode EKS offers).
  it('logs in with the token at token_path and renders a template', async () => {
    await ok('POST', '/v1/sys/auth/kubernetes', {
      type: 'kubernetes',
      config: { jwt_validation_pubkeys: [key.pem], issuer: 'https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE' },
    });
    await ok('PUT', '/v1/auth/kubernetes/role/web', {
      bound_service_account_names: ['web'],
      bound_service_account_namespaces: ['shop'],
      audience: 'https://kubernetes.default.svc',
      token_policies: ['web-read'],
      token_ttl: '10m',
    });
    const now = Math.floor(Date.now() / 1000);
    writeFileSync(
      path.join(files.dir, 'sa-token'),
      await key.sign({
        iss: 'https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE',
        aud: 'https://kubernetes.default.svc',
        sub: 'system:serviceaccount:shop:web',
        'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'web', uid: 'b0f2c3a4' } },
        iat: now,
        exp: now + 600,
      }),
    );
    writeFileSync(
      path.join(files.dir, 'agent.json'),
      JSON.stringify({
        auto_auth: { method: 'kubernetes', role: 'web', token_path: 'sa-token' },
        templates: [{ contents: '{{ secret "web/db" }}', destination: 'db.conf' }],
      }),
    );
    const result = await runCli(['agent', '--once', '--config', path.join(files.dir, 'agent.json')], {
      env: { COFFER_ADDR: current().address, COFFER_TOKEN: '' },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(path.join(files.dir, 'db.conf'), 'utf8')).toBe('web-db-1');
    expect(result.stderr).toContain('logged in (kubernetes login at auth/kubernetes, role web)');
  });
});

describe('SDK: CofferClient logs in with an auth method', () => {
  const files = tempDir('coffer-sdk-login-');
  afterAll(() => files.cleanup());

  it('with AppRole: reads inside the role policy and is refused outside it', async () => {
    const coffer = new CofferClient({
      endpoint: current().address,
      auth: { login: { method: 'approle', roleId, secretId: await secretId('web') } },
      env: {},
    });
    expect((await coffer.getSecretValue({ secretId: 'web/db' })).SecretString).toBe('web-db-1');
    await expect(coffer.getSecretValue({ secretId: 'billing/db' })).rejects.toBeInstanceOf(CofferAccessDeniedError);
  });

  it('with a JWT file, logging in again when its short-lived token expires', async () => {
    const jwtFile = path.join(files.dir, 'jwt');
    writeFileSync(jwtFile, await jwtFor('sdk'));
    const before = logins('ci');
    const coffer = new CofferClient({
      endpoint: current().address,
      auth: { login: { method: 'jwt', mount: 'ci', role: 'deploy', jwtFile } },
      cache: false,
      env: {},
    });
    expect((await coffer.getSecretValue({ secretId: 'web/db' })).SecretString).toBe('web-db-1');
    expect(logins('ci') - before).toBe(1);
    // The token lives 2 s: later reads still succeed, each after a new login once 80 % of that has passed.
    await waitFor(
      'a second login',
      async () =>
        (await coffer.getSecretValue({ secretId: 'web/db' })).SecretString === 'web-db-1' && logins('ci') - before >= 2,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  });
});
