/**
 * Login benchmark (issue 12): logins per second through the real local server (HTTP), each beside a baseline measured
 * in the same run, because absolute numbers on a shared 2-core machine mean little.
 *
 * - `request`: an audited, token-authenticated `GET` of a 1 KiB secret: what any request through the broker costs.
 * - `approle`: `POST /v1/auth/<mount>/login` with a role id and a secret id: the secret id's hash looked up, its use
 *   recorded, an orphan token minted, both audit records durable (a login changes state).
 * - `jwtVerify`: a bare `jose` `jwtVerify` of the very token the JWT logins present, in process: the cryptographic floor
 *   of a JWT login.
 * - `jwt`: `POST /v1/auth/<mount>/login` with that ES256 JWT against a mount with a static public key: `jose`'s checks,
 *   the role's bindings, a token minted, durable audit.
 * - `kubernetes`: the same against a Kubernetes mount in JWKS (offline) mode, as on EKS, with a projected
 *   service-account token signed by the same key: the JWT checks plus the service-account bindings.
 *
 * Run alone with `node --import tsx bench/auth-login.ts` (after `npm run build`); `bench/run.ts` runs it as a suite.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { importSPKI, jwtVerify } from 'jose';
import { api, startServer } from '../test/support/server-process.ts';
import { githubClaims, makeKey } from '../test/unit/core/auth/jwt/jwt-test-issuer.ts';
import {
  API_AUDIENCE,
  CLUSTER_ISSUER,
  projectedClaims,
} from '../test/unit/core/auth/kubernetes/kubernetes-test-tokens.ts';
import { interleaved, measure, type Rate } from './measure.ts';

export interface AuthLoginBenchResult {
  readonly request: Rate;
  readonly approle: Rate;
  readonly jwtVerify: Rate;
  readonly jwt: Rate;
  readonly kubernetes: Rate;
}

const AUDIENCE = 'https://coffer.example.com';

export async function benchAuthLogin(
  options: { count?: number; concurrency?: number } = {},
): Promise<AuthLoginBenchResult> {
  const count = options.count ?? 900;
  const concurrency = options.concurrency ?? 8;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-login-'));
  const server = await startServer(dir);
  try {
    const root = async (method: string, url: string, body?: unknown) => {
      const res = await api(server.address, server.rootToken, method, url, body);
      if (res.status >= 300) throw new Error(`${method} ${url}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    };
    await root('PUT', '/v1/sys/policies/app-read', { rules: [{ path: 'secrets/app/*', capabilities: ['read'] }] });
    await root('PUT', '/v1/secret/data/app/read', { value: 'x'.repeat(1024) });
    await root('POST', '/v1/sys/auth/approle', { type: 'approle' });
    await root('PUT', '/v1/auth/approle/role/web', { token_policies: ['app-read'] });
    const roleId = (await root('GET', '/v1/auth/approle/role/web/role-id')).role_id as string;
    const secretId = (await root('POST', '/v1/auth/approle/role/web/secret-id', {})).secret_id as string;
    const key = await makeKey('ES256');
    await root('POST', '/v1/sys/auth/jwt', {
      type: 'jwt',
      config: { jwt_validation_pubkeys: [key.pem], bound_issuer: githubClaims(0).iss },
    });
    await root('PUT', '/v1/auth/jwt/role/deploy', {
      bound_audiences: [AUDIENCE],
      bound_claims: { repository: 'octo-org/*' },
      bound_claims_type: 'glob',
      token_policies: ['app-read'],
    });
    await root('POST', '/v1/sys/auth/kubernetes', {
      type: 'kubernetes',
      config: { jwt_validation_pubkeys: [key.pem], issuer: CLUSTER_ISSUER },
    });
    await root('PUT', '/v1/auth/kubernetes/role/web', {
      bound_service_account_names: ['web'],
      bound_service_account_namespaces: ['shop'],
      audience: API_AUDIENCE,
      token_policies: ['app-read'],
    });
    const serviceAccountToken = await key.sign(projectedClaims(Date.now()));
    // One token for the whole run (10 minutes of validity): the logins and the bare verification see the same bytes.
    const jwt = await key.sign(githubClaims(Date.now(), { exp: Math.floor(Date.now() / 1000) + 600 }));

    const post = (url: string, body: unknown) => async () => {
      const res = await fetch(`${server.address}${url}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
    };
    const approleLogin = post('/v1/auth/approle/login', { role_id: roleId, secret_id: secretId });
    const jwtLogin = post('/v1/auth/jwt/login', { role: 'deploy', jwt });
    const kubernetesLogin = post('/v1/auth/kubernetes/login', { role: 'web', jwt: serviceAccountToken });
    const get = async () => {
      const res = await fetch(`${server.address}/v1/secret/data/app/read`, {
        headers: { 'x-coffer-token': server.rootToken },
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`GET: HTTP ${res.status}`);
    };
    const publicKey = await importSPKI(key.pem, 'ES256');
    const verify = async () => {
      await jwtVerify(jwt, publicKey, { issuer: githubClaims(0).iss, audience: AUDIENCE, algorithms: ['ES256'] });
    };

    // Warm-up of each path (JIT, connections, the server's caches), then the measured runs.
    for (const fn of [get, approleLogin, verify, jwtLogin, kubernetesLogin]) await measure(100, concurrency, fn);
    const perRound = Math.ceil(count / 3);
    return await interleaved(3, {
      request: () => measure(perRound, concurrency, get),
      approle: () => measure(perRound, concurrency, approleLogin),
      jwtVerify: () => measure(perRound * 5, concurrency, verify),
      jwt: () => measure(perRound, concurrency, jwtLogin),
      kubernetes: () => measure(perRound, concurrency, kubernetesLogin),
    });
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchAuthLogin();
  const row = (name: string, r: Rate, baseline: Rate, against: string) =>
    `${name.padEnd(40)} ${r.perSecond.toFixed(0).padStart(6)}/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  ` +
    `(${(r.perSecond / baseline.perSecond).toFixed(2)}× ${against})`;
  console.log(row('audited GET of 1 KiB, token (HTTP)', result.request, result.request, 'GET'));
  console.log(row('AppRole login (HTTP)', result.approle, result.request, 'GET'));
  console.log(row('bare jose jwtVerify, ES256 (in process)', result.jwtVerify, result.jwtVerify, 'jwtVerify'));
  console.log(row('JWT login, ES256 (HTTP)', result.jwt, result.jwtVerify, 'jwtVerify'));
  console.log(row('Kubernetes login, JWKS mode, ES256 (HTTP)', result.kubernetes, result.jwtVerify, 'jwtVerify'));
  console.log(`JWT login / audited GET: ${(result.jwt.perSecond / result.request.perSecond).toFixed(2)}×`);
  console.log(
    `Kubernetes login / audited GET: ${(result.kubernetes.perSecond / result.request.perSecond).toFixed(2)}×, ` +
      `/ JWT login: ${(result.kubernetes.perSecond / result.jwt.perSecond).toFixed(2)}×`,
  );
}
