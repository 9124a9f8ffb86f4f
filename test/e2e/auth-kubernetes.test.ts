import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeKubernetesApi, startKubernetesApi } from '../support/kubernetes-api.ts';
import { api, runCli, tempDir } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';
import { makeKey, startIssuer, type TestIssuer, type TestKey } from '../unit/core/auth/jwt/jwt-test-issuer.ts';
import { CLUSTER_ISSUER, projectedClaims } from '../unit/core/auth/kubernetes/kubernetes-test-tokens.ts';

/**
 * Issue 12: a pod logs in with its projected service-account token. Two mounts: `eks` checks tokens offline against
 * the cluster issuer's JWKS (a loopback issuer), `cluster` asks the cluster's TokenReview API (a loopback HTTPS API
 * server with a CA the test made). Both are set up from the CLI (`coffer auth enable kubernetes --config-file`,
 * `coffer kubernetes role put`), the pod logs in with `coffer login --method kubernetes --jwt-file`, reads what its
 * role's policy allows and nothing else; refused tokens get a clear 403 and an audit record holding no part of them.
 */

const AUDIENCE = 'coffer';
const REVIEWER = 'reviewer-token.of-the-coffer-service-account';

let key: TestKey;
let issuer: TestIssuer;
let cluster: FakeKubernetesApi;
const env: Record<string, string> = {};
beforeAll(async () => {
  key = await makeKey('RS256');
  issuer = await startIssuer([key.jwk]);
  cluster = await startKubernetesApi(REVIEWER);
  // Read by useServer's beforeAll, which runs after this one: the issuer and the API server, nothing else.
  env.COFFER_EGRESS_ALLOW = `127.0.0.1:${issuer.port},127.0.0.1:${cluster.port}`;
});
afterAll(async () => {
  await issuer.close();
  await cluster.close();
});
const current = useServer(env);
const files = tempDir();
afterAll(() => files.cleanup());
const cli = (args: string[]) =>
  runCli(args, { env: { COFFER_ADDR: current().address, COFFER_TOKEN: current().rootToken } });
const login = (jwt: string, mount = 'eks', role = 'web') =>
  api(current().address, undefined, 'POST', `/v1/auth/${mount}/login`, { role, jwt });

/** `coffer login --method kubernetes` with `jwt` in a token file, as the kubelet mounts it. */
async function cliLogin(jwt: string, mount: string) {
  const tokenFile = path.join(files.dir, `token-${mount}`);
  writeFileSync(tokenFile, jwt, { mode: 0o600 });
  return runCli(
    ['login', '--method', 'kubernetes', '--path', mount, '--role', 'web', '--jwt-file', tokenFile, '-o', 'json'],
    {
      env: { COFFER_ADDR: current().address },
    },
  );
}

beforeAll(async () => {
  const { address, rootToken } = current();
  const root = (method: string, p: string, body?: unknown) => api(address, rootToken, method, p, body);
  const eks = path.join(files.dir, 'eks.json');
  writeFileSync(eks, JSON.stringify({ jwks_url: `${issuer.url}/jwks.json`, issuer: CLUSTER_ISSUER }));
  const enabled = await cli(['auth', 'enable', 'kubernetes', '--path', 'eks', '--config-file', eks]);
  expect(enabled.code, enabled.stderr).toBe(0);
  expect(enabled.stdout).toContain('enabled kubernetes at auth/eks/');
  const onCluster = path.join(files.dir, 'cluster.json');
  writeFileSync(
    onCluster,
    JSON.stringify({ kubernetes_host: cluster.url, kubernetes_ca_cert: cluster.caPem, token_reviewer_jwt: REVIEWER }),
  );
  const reviewed = await cli(['auth', 'enable', 'kubernetes', '--path', 'cluster', '--config-file', onCluster]);
  expect(reviewed.code, reviewed.stderr).toBe(0);
  const policy = await root('PUT', '/v1/sys/policies/shop-web', {
    rules: [{ path: 'secrets/shop/{{principal.metadata.service_account_name}}/*', capabilities: ['read'] }],
  });
  expect(policy.status).toBeLessThan(300);
  for (const mount of ['eks', 'cluster']) {
    const role = await cli([
      'kubernetes',
      'role',
      'put',
      'web',
      '--path',
      mount,
      '--service-account',
      'web',
      '--service-account',
      'web-*',
      '--namespace',
      'shop',
      '--audience',
      AUDIENCE,
      '--policy',
      'shop-web',
      '--token-ttl',
      '15m',
    ]);
    expect(role.code, role.stderr).toBe(0);
  }
  const shown = await cli(['kubernetes', 'role', 'get', 'web', '--path', 'eks', '-o', 'json']);
  expect(JSON.parse(shown.stdout).role).toMatchObject({
    bound_service_account_names: ['web', 'web-*'],
    bound_service_account_namespaces: ['shop'],
    audience: AUDIENCE,
    alias_name_source: 'serviceaccount_uid',
    token_ttl: 900,
  });
  for (const name of ['shop/web/db', 'shop/billing/db']) {
    expect((await root('PUT', `/v1/secret/data/${name}`, { value: `value of ${name}` })).status).toBeLessThan(300);
  }
});

/** The token logs in from the CLI and reads inside its role's policy, not outside. */
async function expectLoginAndReads(jwt: string, mount: string): Promise<void> {
  const loggedIn = await cliLogin(jwt, mount);
  expect(loggedIn.code, loggedIn.stderr).toBe(0);
  const { auth } = JSON.parse(loggedIn.stdout) as {
    auth: { client_token: string; policies: string[]; metadata: Record<string, string>; mount_type: string };
  };
  expect(auth.policies).toContain('shop-web');
  expect(auth.mount_type).toBe('kubernetes');
  expect(auth.metadata).toMatchObject({ service_account_name: 'web', service_account_namespace: 'shop', role: 'web' });
  const { address } = current();
  const allowed = await api(address, auth.client_token, 'GET', '/v1/secret/data/shop/web/db');
  expect(allowed.status).toBe(200);
  expect(JSON.stringify(allowed.body)).toContain('value of shop/web/db');
  expect((await api(address, auth.client_token, 'GET', '/v1/secret/data/shop/billing/db')).status).toBe(403);
}

describe('Kubernetes auth, JWKS mode: a pod logs in with its projected token', () => {
  it('gets a token with the role policy and the service account as metadata, which reads inside the policy only', async () => {
    await expectLoginAndReads(await key.sign(projectedClaims(Date.now(), {}, { aud: [AUDIENCE] })), 'eks');
  });

  it.each([
    ['another namespace', { namespace: 'billing' }, {}, 'namespace not allowed by the role'],
    ['another service account', { name: 'billing' }, {}, 'service account not allowed by the role'],
    ['an expired token', {}, { exp: Math.floor(Date.now() / 1000) - 3600 }, 'token expired'],
    ['a wrong audience', {}, { aud: ['https://kubernetes.default.svc'] }, 'audience not allowed'],
    ['a wrong issuer', {}, { iss: 'https://oidc.eks.example.com/id/OTHER' }, 'issuer not allowed'],
  ])('refuses %s with a clear 403 and an audit record without the token', async (_label, account, claims, message) => {
    const jwt = await key.sign(projectedClaims(Date.now(), account, { aud: [AUDIENCE], ...claims }));
    const res = await login(jwt);
    expect(res.status).toBe(403);
    expect(res.body.error?.message).toContain(message);
    expectAudited(res.requestId!, `kubernetes login at auth/eks (role web) refused: kubernetes`, message, jwt);
  });

  it('refuses alg none', async () => {
    const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const none = `${encode({ alg: 'none' })}.${encode(projectedClaims(Date.now(), {}, { aud: [AUDIENCE] }))}.`;
    const res = await login(none);
    expect(res.status).toBe(403);
    expect(res.body.error?.message).toContain('algorithm none not allowed');
    expectAudited(res.requestId!, 'kubernetes login at auth/eks', 'algorithm none not allowed', none);
  });

  it('coffer login --method kubernetes exits 4 with the reason, and 2 when the token file is missing', async () => {
    const refused = await cliLogin(
      await key.sign(projectedClaims(Date.now(), { namespace: 'billing' }, { aud: [AUDIENCE] })),
      'eks',
    );
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('namespace not allowed by the role');
    expect(refused.stdout).toBe('');
    const missing = await runCli(['login', '--method', 'kubernetes', '--role', 'web'], {
      env: { COFFER_ADDR: current().address },
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read /var/run/secrets/kubernetes.io/serviceaccount/token');
  });
});

describe('Kubernetes auth, TokenReview mode: the cluster decides', () => {
  it('never shows the reviewer token back, nor writes it to the audit log', async () => {
    const listed = await cli(['auth', 'list', '-o', 'json']);
    expect(listed.code, listed.stderr).toBe(0);
    const mount = (
      JSON.parse(listed.stdout) as { mounts: { path: string; config: Record<string, unknown> }[] }
    ).mounts.find((m) => m.path === 'cluster');
    expect(mount?.config).toMatchObject({ kubernetes_host: cluster.url, token_reviewer_jwt_set: true });
    expect(listed.stdout).not.toContain(REVIEWER);
    expect(readFileSync(path.join(current().dataDir, 'audit', 'audit.log'), 'utf8')).not.toContain(REVIEWER);
  });

  it('logs in a token the cluster authenticates, and refuses it once the cluster no longer does', async () => {
    const jwt = await key.sign(projectedClaims(Date.now(), { uid: 'uid-web' }, { aud: [AUDIENCE] }));
    cluster.accounts.set(jwt, { namespace: 'shop', name: 'web', uid: 'uid-web', audiences: [AUDIENCE] });
    await expectLoginAndReads(jwt, 'cluster');
    expect(cluster.received.at(-1)).toMatchObject({
      authorization: `Bearer ${REVIEWER}`,
      body: { spec: { token: jwt, audiences: [AUDIENCE] } },
    });
    cluster.accounts.delete(jwt);
    const res = await login(jwt, 'cluster');
    expect(res.status).toBe(403);
    expect(res.body.error?.message).toContain('the cluster did not authenticate the token');
    expectAudited(res.requestId!, 'kubernetes login at auth/cluster (role web)', 'invalid bearer token', jwt);
  });
});

/** The audit log holds the refusal of `requestId` with its reason, and no part of the token. */
function expectAudited(requestId: string, where: string, reason: string, jwt: string): void {
  const log = readFileSync(path.join(current().dataDir, 'audit', 'audit.log'), 'utf8');
  const lines = log.split('\n').filter((line) => line.includes(requestId));
  expect(lines.length).toBeGreaterThan(0);
  expect(lines.join('\n')).toContain(where);
  expect(lines.join('\n')).toContain(reason);
  for (const part of jwt.split('.').filter((p) => p.length > 0)) expect(log).not.toContain(part);
}
