import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, runCli, tempDir } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';
import {
  githubClaims,
  makeKey,
  startIssuer,
  type TestIssuer,
  type TestKey,
} from '../unit/core/auth/jwt/jwt-test-issuer.ts';

/**
 * Issue 12: a CI job logs in with its GitHub Actions OIDC token through a JWT mount whose keys come from a JWKS URL
 * (a loopback issuer on the egress allow-list), reads what its role's policy allows and nothing else; refused tokens
 * get a clear 403 and an audit record that holds no part of the token. The mount and the first login go through the
 * CLI (`coffer auth enable jwt --config-file`, `coffer jwt role put`, `coffer login --method jwt --jwt-file`); the
 * refusals go through the HTTP API, whose answers and request ids the test reads.
 */

const GITHUB = 'https://token.actions.githubusercontent.com';
const AUDIENCE = 'https://coffer.example.com';

let key: TestKey;
let issuer: TestIssuer;
const env: Record<string, string> = {};
beforeAll(async () => {
  key = await makeKey('ES256');
  issuer = await startIssuer([key.jwk]);
  // Read by useServer's beforeAll, which runs after this one.
  env.COFFER_EGRESS_ALLOW = `127.0.0.1:${issuer.port}`;
});
afterAll(async () => {
  await issuer.close();
});
const current = useServer(env);
const files = tempDir();
afterAll(() => files.cleanup());
const cli = (args: string[]) =>
  runCli(args, { env: { COFFER_ADDR: current().address, COFFER_TOKEN: current().rootToken } });

const login = (jwt: string, role = 'deploy') =>
  api(current().address, undefined, 'POST', '/v1/auth/github/login', { role, jwt });

beforeAll(async () => {
  const { address, rootToken } = current();
  const root = (method: string, p: string, body?: unknown) => api(address, rootToken, method, p, body);
  const config = path.join(files.dir, 'github.json');
  writeFileSync(config, JSON.stringify({ jwks_url: `${issuer.url}/jwks.json`, bound_issuer: GITHUB }));
  const enabled = await cli(['auth', 'enable', 'jwt', '--path', 'github', '--config-file', config]);
  expect(enabled.code, enabled.stderr).toBe(0);
  expect(enabled.stdout).toContain('enabled jwt at auth/github/');
  expect(
    (
      await root('PUT', '/v1/sys/policies/deploy', {
        rules: [
          { path: 'secrets/ci/octo-org/*', capabilities: ['read'] },
          { path: 'secrets/ci/{{principal.metadata.repository_id}}/*', capabilities: ['read'] },
        ],
      })
    ).status,
  ).toBeLessThan(300);
  const roleFile = path.join(files.dir, 'deploy-role.json');
  writeFileSync(
    roleFile,
    JSON.stringify({
      bound_claims: { repository: 'octo-org/*', ref: 'refs/heads/main', environment: 'production' },
      claim_mappings: { repository: 'repository', repository_id: 'repository_id', job_workflow_ref: 'workflow' },
    }),
  );
  const role = await cli([
    'jwt',
    'role',
    'put',
    'deploy',
    '--path',
    'github',
    '--file',
    roleFile,
    '--audience',
    AUDIENCE,
    '--glob',
    '--policy',
    'deploy',
    '--token-ttl',
    '15m',
  ]);
  expect(role.code, role.stderr).toBe(0);
  const shown = await cli(['jwt', 'role', 'get', 'deploy', '--path', 'github', '-o', 'json']);
  expect(JSON.parse(shown.stdout).role).toMatchObject({
    bound_audiences: [AUDIENCE],
    bound_claims_type: 'glob',
    token_ttl: 900,
  });
  for (const name of ['ci/octo-org/api', 'ci/other-org/api', 'ci/74/key', 'ci/75/key']) {
    expect((await root('PUT', `/v1/secret/data/${name}`, { value: `value of ${name}` })).status).toBeLessThan(300);
  }
});

describe('JWT auth: a GitHub Actions job logs in', () => {
  it('gets a token with the role policy and mapped claims, which reads inside the policy and not outside', async () => {
    const jwtFile = path.join(files.dir, 'jwt');
    const claims = githubClaims(Date.now(), { aud: AUDIENCE, repository_id: '74' });
    writeFileSync(jwtFile, `${await key.sign(claims)}\n`, { mode: 0o600 });
    const loggedIn = await runCli(
      ['login', '--method', 'jwt', '--path', 'github', '--role', 'deploy', '--jwt-file', jwtFile, '-o', 'json'],
      { env: { COFFER_ADDR: current().address } },
    );
    expect(loggedIn.code, loggedIn.stderr).toBe(0);
    const { auth } = JSON.parse(loggedIn.stdout) as {
      auth: { client_token: string; policies: string[]; metadata: Record<string, string> };
    };
    expect(auth.policies).toContain('deploy');
    expect(auth.metadata).toMatchObject({
      repository: 'octo-org/api',
      workflow: 'octo-org/api/.github/workflows/deploy.yml@refs/heads/main',
      role: 'deploy',
    });
    const { address } = current();
    const allowed = await api(address, auth.client_token, 'GET', '/v1/secret/data/ci/octo-org/api');
    expect(allowed.status).toBe(200);
    expect(JSON.stringify(allowed.body)).toContain('value of ci/octo-org/api');
    const refused = await api(address, auth.client_token, 'GET', '/v1/secret/data/ci/other-org/api');
    expect(refused.status).toBe(403);
    // A mapped claim fills a templated policy path: this repository's id, and no other.
    expect((await api(address, auth.client_token, 'GET', '/v1/secret/data/ci/74/key')).status).toBe(200);
    expect((await api(address, auth.client_token, 'GET', '/v1/secret/data/ci/75/key')).status).toBe(403);
    expect(issuer.hits.get('/jwks.json')).toBe(1);
  });

  it.each([
    ['a wrong audience', { aud: 'https://other.example.com' }, 'audience not allowed'],
    ['a wrong issuer', { iss: 'https://evil.example.com' }, 'issuer not allowed'],
    ['an expired token', { exp: Math.floor(Date.now() / 1000) - 3600 }, 'token expired'],
    ['a token not yet valid', { nbf: Math.floor(Date.now() / 1000) + 3600 }, 'token not yet valid'],
    ['another repository', { repository: 'evil-org/api' }, 'claim "repository" does not match the role'],
  ])('refuses %s with a clear 403 and an audit record without the token', async (_label, claims, message) => {
    const jwt = await key.sign(githubClaims(Date.now(), { aud: AUDIENCE, ...claims }));
    const res = await login(jwt);
    expect(res.status).toBe(403);
    expect(res.body.error?.message).toContain(message);
    expectAudited(res.requestId!, message, jwt);
  });

  it('refuses alg none and HS256 signed with the public key', async () => {
    const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const none = `${encode({ alg: 'none', typ: 'JWT' })}.${encode(githubClaims(Date.now(), { aud: AUDIENCE }))}.`;
    const res = await login(none);
    expect(res.status).toBe(403);
    expect(res.body.error?.message).toContain('algorithm none not allowed');
    expectAudited(res.requestId!, 'algorithm none not allowed', none);

    const { SignJWT } = await import('jose');
    const hs = await new SignJWT(githubClaims(Date.now(), { aud: AUDIENCE }))
      .setProtectedHeader({ alg: 'HS256', kid: key.kid })
      .sign(new TextEncoder().encode(key.pem));
    const confused = await login(hs);
    expect(confused.status).toBe(403);
    expect(confused.body.error?.message).toContain('algorithm HS256 not allowed');
  });

  it('coffer login --method jwt exits 4 with the reason when the token is refused', async () => {
    const jwtFile = path.join(files.dir, 'foreign-jwt');
    writeFileSync(jwtFile, await key.sign(githubClaims(Date.now(), { aud: 'https://other.example.com' })));
    const refused = await runCli(
      ['login', '--method', 'jwt', '--path', 'github', '--role', 'deploy', '--jwt-file', jwtFile],
      {
        env: { COFFER_ADDR: current().address },
      },
    );
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('audience not allowed');
    expect(refused.stdout).toBe('');
  });
});

describe('coffer auth config: a mount reconfigured in place', () => {
  it('swaps the signing key of a JWT mount without disabling it: old-key tokens refused, roles and tokens kept', async () => {
    const { address, rootToken } = current();
    const root = (method: string, p: string, body?: unknown) => api(address, rootToken, method, p, body);
    const [oldKey, newKey] = [await makeKey('ES256'), await makeKey('ES256')];
    const keyFile = (pem: string) => {
      const file = path.join(files.dir, `static-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(file, JSON.stringify({ jwt_validation_pubkeys: [pem], bound_issuer: GITHUB }));
      return file;
    };
    expect(
      (await cli(['auth', 'enable', 'jwt', '--path', 'rotating', '--config-file', keyFile(oldKey.pem)])).code,
    ).toBe(0);
    expect(
      (
        await root('PUT', '/v1/sys/policies/rotating-read', {
          rules: [{ path: 'secrets/ci/*', capabilities: ['read'] }],
        })
      ).status,
    ).toBeLessThan(300);
    expect(
      (
        await root('PUT', '/v1/auth/rotating/role/deploy', {
          bound_audiences: [AUDIENCE],
          bound_subject: 'repo:octo-org/api:environment:production',
          token_policies: ['rotating-read'],
        })
      ).status,
    ).toBe(200);
    const loginWith = async (k: TestKey) =>
      api(address, undefined, 'POST', '/v1/auth/rotating/login', {
        role: 'deploy',
        jwt: await k.sign(githubClaims(Date.now())),
      });
    const before = await loginWith(oldKey);
    expect(before.status).toBe(200);
    const earlierToken = (before.body as { auth: { client_token: string } }).auth.client_token;

    const configured = await cli(['auth', 'config', 'rotating', '--config-file', keyFile(newKey.pem)]);
    expect(configured.code, configured.stderr).toBe(0);
    expect(configured.stdout).toContain('configured auth/rotating/');
    expect((await loginWith(oldKey)).status).toBe(403);
    expect((await loginWith(newKey)).status).toBe(200);
    // The role and the token issued before stay.
    expect((await api(address, earlierToken, 'GET', '/v1/auth/token/lookup-self')).status).toBe(200);
    const shown = await cli(['auth', 'config', 'rotating', '-o', 'json']);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      path: 'rotating',
      config: { jwt_validation_pubkeys: [newKey.pem] },
    });
  });
});

/** The audit log holds the refusal of `requestId` with its reason, and no part of the token. */
function expectAudited(requestId: string, reason: string, jwt: string): void {
  const log = readFileSync(path.join(current().dataDir, 'audit', 'audit.log'), 'utf8');
  const lines = log.split('\n').filter((line) => line.includes(requestId));
  expect(lines.length).toBeGreaterThan(0);
  expect(lines.join('\n')).toContain(reason.replaceAll('"', '\\"'));
  for (const part of jwt.split('.').filter((p) => p.length > 0)) expect(log).not.toContain(part);
}
