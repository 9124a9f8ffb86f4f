import { type ChildProcess, spawn } from 'node:child_process';
import { createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtEntry } from '../../../bin/built.mjs';
import { freePort } from '../../support/free-port.ts';
import { api, type ServerProcess, startServer, tempDir } from '../../support/server-process.ts';

/**
 * The world a malformed-input campaign runs against: a real `coffer server` with planted canaries (a secret whose
 * value is random, the root token, an AppRole secret id, the extension's session token), a fuzz identity that may do
 * anything under `fuzz/` and nothing to the canaries, four login mounts, and the compiled Lambda extension in front.
 */
export interface Fixture {
  readonly server: ServerProcess;
  readonly serverUrl: URL;
  readonly extensionUrl: URL;
  /** The values no answer, header or log line may ever contain. */
  readonly canaries: Readonly<Record<string, string>>;
  /** A token with the `fuzz` policy only. */
  readonly fuzzToken: string;
  readonly accessKey: { accessKeyId: string; secretAccessKey: string };
  readonly sessionToken: string;
  readonly roleId: string;
  readonly validJwt: string;
  readonly validK8sJwt: string;
  extensionAlive(): boolean;
  extensionOutput(): string;
  /** What the server printed after start-up (the init banner shows the root token once, by design). */
  serverLogSinceStart(): string;
  /** The audit log files, to look for canaries in. */
  auditFiles(): string[];
  close(): Promise<void>;
}

const ISSUER = 'https://issuer.fuzz.example';
const K8S_ISSUER = 'https://k8s.fuzz.example';

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function signEs256(privateKeyPem: string, claims: Record<string, unknown>): string {
  const input = `${b64url({ alg: 'ES256', typ: 'JWT', kid: 'fuzz' })}.${b64url(claims)}`;
  const signature = createSign('SHA256').update(input).sign({ key: privateKeyPem, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

async function ok(
  server: ServerProcess,
  method: string,
  urlPath: string,
  body?: unknown,
  token = server.rootToken,
): Promise<Record<string, unknown>> {
  const res = await api(server.address, token, method, urlPath, body);
  if (res.status >= 300)
    throw new Error(`fixture: ${method} ${urlPath} answered ${res.status}: ${res.body.error?.message}`);
  return res.body;
}

/** Enough of the Lambda Extensions API for the extension to register and wait for events. */
async function startRuntimeApi(): Promise<{ address: string; close(): Promise<void> }> {
  const waiting: ServerResponse[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    if (req.method === 'POST' && req.url === '/2020-01-01/extension/register') {
      res.writeHead(200, { 'content-type': 'application/json', 'lambda-extension-identifier': 'soak-ext' });
      res.end(JSON.stringify({ functionName: 'soak', functionVersion: '$LATEST', handler: 'index.handler' }));
    } else if (req.method === 'GET' && req.url === '/2020-01-01/extension/event/next') {
      waiting.push(res);
    } else {
      res.writeHead(202);
      res.end('{}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      for (const res of waiting.splice(0)) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function waitForPort(url: string, headers: Record<string, string>, alive: () => boolean): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (!alive()) throw new Error('fixture: the extension exited before listening');
    try {
      await fetch(url, { headers });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error('fixture: the extension never listened');
}

export async function startFixture(log: (line: string) => void): Promise<Fixture> {
  const tmp = tempDir('coffer-soak-input-');
  const server = await startServer(path.join(tmp.dir, 'data'));
  try {
    return await setUp(server, tmp, log);
  } catch (err) {
    // A fixture that failed half-way must not leave a server running behind the campaign.
    await server.stop();
    tmp.cleanup();
    throw err;
  }
}

async function setUp(
  server: ServerProcess,
  tmp: { cleanup: () => void },
  log: (line: string) => void,
): Promise<Fixture> {
  const banner = server.output().length;
  const secretCanary = `canary-secret-${randomBytes(12).toString('hex')}`;
  await ok(server, 'PUT', '/v1/secret/data/canary/db', { value: secretCanary });
  for (const name of ['fuzz/a', 'fuzz/b', 'fuzz/deep/c'])
    await ok(server, 'PUT', `/v1/secret/data/${name}`, { value: `value-of-${name}` });
  await ok(server, 'PUT', '/v1/sys/policies/fuzz', {
    rules: [
      { path: 'secrets/fuzz/*', capabilities: ['create', 'read', 'update', 'delete', 'list', 'rotate'] },
      { path: 'secrets/fuzz', capabilities: ['list'] },
    ],
  });
  const fuzzToken = (await ok(server, 'POST', '/v1/auth/token/create', { policies: ['fuzz'], ttl: '24h' }))
    .token as string;
  const accessKey = (await ok(server, 'POST', '/v1/sys/access-keys', { principal: 'fuzz-sm', policies: ['fuzz'] })) as {
    accessKeyId: string;
    secretAccessKey: string;
  };

  // Lockout off (AppRole has one): with it on, five bad logins would lock the role and the rest would test only that.
  const noLockout = { lockout_disable: true };
  await ok(server, 'POST', '/v1/sys/auth/approle', { type: 'approle', user_lockout_config: noLockout });
  await ok(server, 'PUT', '/v1/auth/approle/role/app', { token_policies: ['fuzz'] });
  const roleId = (await ok(server, 'GET', '/v1/auth/approle/role/app/role-id')).role_id as string;
  const secretIdCanary = (await ok(server, 'POST', '/v1/auth/approle/role/app/secret-id', {})).secret_id as string;

  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const privatePem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await ok(server, 'POST', '/v1/sys/auth/jwt', {
    type: 'jwt',
    config: { jwt_validation_pubkeys: [publicPem], bound_issuer: ISSUER, jwt_supported_algs: ['ES256'] },
  });
  await ok(server, 'PUT', '/v1/auth/jwt/role/ci', { bound_audiences: ['coffer'], token_policies: ['fuzz'] });
  await ok(server, 'POST', '/v1/sys/auth/kubernetes', {
    type: 'kubernetes',
    config: { jwt_validation_pubkeys: [publicPem], issuer: K8S_ISSUER, jwt_supported_algs: ['ES256'] },
  });
  await ok(server, 'PUT', '/v1/auth/kubernetes/role/app', {
    bound_service_account_names: ['app'],
    bound_service_account_namespaces: ['default'],
    audience: 'coffer',
    token_policies: ['fuzz'],
  });
  await ok(server, 'POST', '/v1/sys/auth/cert', { type: 'cert' });
  const now = Math.floor(Date.now() / 1000);
  const validJwt = signEs256(privatePem, { iss: ISSUER, aud: 'coffer', sub: 'repo:fuzz', iat: now, exp: now + 86_400 });
  const validK8sJwt = signEs256(privatePem, {
    iss: K8S_ISSUER,
    aud: ['coffer'],
    sub: 'system:serviceaccount:default:app',
    iat: now,
    exp: now + 86_400,
    'kubernetes.io': {
      namespace: 'default',
      serviceaccount: { name: 'app', uid: '0b3c6d1e-1f5a-4d0e-9f0a-000000000001' },
    },
  });

  const runtime = await startRuntimeApi();
  const sessionToken = `canary-session-${randomBytes(12).toString('hex')}`;
  const port = await freePort();
  const ext: ChildProcess = spawn(process.execPath, [fileURLToPath(builtEntry('extension-main'))], {
    env: {
      PATH: process.env.PATH ?? '',
      AWS_LAMBDA_RUNTIME_API: runtime.address,
      AWS_SESSION_TOKEN: sessionToken,
      COFFER_ADDR: server.address,
      COFFER_TOKEN: fuzzToken,
      PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(port),
      PARAMETERS_SECRETS_EXTENSION_LOG_LEVEL: 'debug',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let extOut = '';
  ext.stdout!.on('data', (c: Buffer) => (extOut += c.toString('utf8')));
  ext.stderr!.on('data', (c: Buffer) => (extOut += c.toString('utf8')));
  const extensionAlive = () => ext.exitCode === null && ext.signalCode === null;
  const extensionUrl = new URL(`http://127.0.0.1:${port}`);
  try {
    await waitForPort(
      `${extensionUrl.origin}/secretsmanager/get?secretId=fuzz/a`,
      { 'x-aws-parameters-secrets-token': sessionToken },
      extensionAlive,
    );
  } catch (err) {
    if (extensionAlive()) ext.kill('SIGKILL');
    await runtime.close();
    throw err;
  }
  log(`fixture: server ${server.address}, extension ${extensionUrl.origin}, mounts approle jwt kubernetes cert`);

  return {
    server,
    serverUrl: new URL(server.address),
    extensionUrl,
    canaries: { secret: secretCanary, rootToken: server.rootToken, secretId: secretIdCanary, sessionToken },
    fuzzToken,
    accessKey,
    sessionToken,
    roleId,
    validJwt,
    validK8sJwt,
    extensionAlive,
    extensionOutput: () => extOut,
    serverLogSinceStart: () => server.output().slice(banner),
    auditFiles() {
      const dir = path.join(server.dataDir, 'audit');
      return readdirSync(dir).map((file) => path.join(dir, file));
    },
    async close() {
      if (extensionAlive()) ext.kill('SIGKILL');
      await runtime.close();
      await server.stop();
      tmp.cleanup();
    },
  };
}
