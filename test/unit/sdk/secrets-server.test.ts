import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CofferAccessDeniedError,
  CofferInvalidRequestError,
  CofferNetworkError,
  CofferNotFoundError,
  CofferServerError,
} from '../../../lambdas/sdk/errors.ts';
import type { SecretSource } from '../../../lambdas/sdk/secret-cache.ts';
import {
  type SecretsCacheServer,
  type SecretsCacheServerOptions,
  startSecretsCache,
  TOKEN_HEADER,
} from '../../../lambdas/sdk/secrets-server.ts';
import type { GetSecretValueInput, GetSecretValueOutput } from '../../../lambdas/sdk/types.ts';
import { waitFor } from '../../support/wait-for.ts';

/** Stands in for `CofferClient.source`; `errors` makes a secret fail, `gate` holds fetches in flight. */
class FakeSource implements SecretSource {
  values = new Map<string, string>();
  errors = new Map<string, Error>();
  fetches: GetSecretValueInput[] = [];
  inFlight = 0;
  maxInFlight = 0;
  gate: Promise<void> | undefined;

  async fetch(input: GetSecretValueInput): Promise<GetSecretValueOutput> {
    this.fetches.push(input);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.gate;
      const error = this.errors.get(input.secretId);
      if (error !== undefined) throw error;
      const value = this.values.get(input.secretId);
      if (value === undefined) throw new CofferNotFoundError('no such secret', { status: 404, code: 'not_found' });
      return {
        ARN: `arn:${input.secretId}`,
        Name: input.secretId,
        VersionId: `v-${value}`,
        SecretString: value,
        VersionStages: ['AWSCURRENT'],
        CreatedDate: 1_700_000_000.5,
      };
    } finally {
      this.inFlight--;
    }
  }

  checks = 0;

  async versions(secretId: string) {
    this.checks++;
    return { versionIdsToStages: { [`v-${this.values.get(secretId)}`]: ['AWSCURRENT'] }, deleted: false };
  }
}

const TOKEN = 'session-token-value';
let server: SecretsCacheServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(source: FakeSource, options: Partial<SecretsCacheServerOptions> = {}) {
  server = await startSecretsCache({ coffer: { source }, port: 0, token: TOKEN, ...options });
  return server;
}

async function get(path: string, headers: Record<string, string> = { [TOKEN_HEADER]: TOKEN }, method = 'GET') {
  const res = await fetch(`${server!.address}${path}`, { method, headers });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
}

describe('Function: startSecretsCache', () => {
  it('returns the GetSecretValue JSON for a secret, and a second read does not reach Coffer', async () => {
    const source = new FakeSource();
    source.values.set('prod/db', 'pw');
    await start(source);
    const first = await get('/secretsmanager/get?secretId=prod%2Fdb');
    expect(first).toEqual({
      status: 200,
      body: {
        ARN: 'arn:prod/db',
        Name: 'prod/db',
        VersionId: 'v-pw',
        SecretString: 'pw',
        VersionStages: ['AWSCURRENT'],
        CreatedDate: 1_700_000_000.5,
      },
    });
    await get('/secretsmanager/get?secretId=prod/db');
    await get('/secretsmanager/get?secretId=prod/db&versionStage=AWSCURRENT');
    expect(source.fetches).toHaveLength(1);
    expect(server!.stats()).toMatchObject({ hits: 2, upstreamCalls: 1, requests: 3 });
  });

  it('refuses a request without the token header (401) or with another token (403), before anything else', async () => {
    const source = new FakeSource();
    source.values.set('s', 'v');
    await start(source);
    expect((await get('/secretsmanager/get?secretId=s', {})).status).toBe(401);
    expect((await get('/secretsmanager/get?secretId=s', { [TOKEN_HEADER]: `${TOKEN}x` })).status).toBe(403);
    expect((await get('/secretsmanager/get?secretId=s', { [TOKEN_HEADER]: 'short' })).status).toBe(403);
    expect((await get('/nowhere', {})).status).toBe(401);
    expect(source.fetches).toHaveLength(0);
  });

  it('without a configured token (a local sidecar), serves requests without the header', async () => {
    const source = new FakeSource();
    source.values.set('s', 'v');
    await start(source, { token: undefined });
    expect((await get('/secretsmanager/get?secretId=s', {})).status).toBe(200);
  });

  it('validates the query: secretId required, no unknown parameters', async () => {
    await start(new FakeSource());
    const missing = await get('/secretsmanager/get');
    expect(missing.status).toBe(400);
    expect(missing.body.__type).toBe('InvalidParameterException');
    expect((await get('/secretsmanager/get?secretId=s&versionid=x')).status).toBe(400);
    expect((await get('/secretsmanager/get?secretId=s&refreshNow=yes')).status).toBe(400);
  });

  it('answers unknown paths with 404, SSM parameters with 501 and other methods with 405', async () => {
    await start(new FakeSource());
    expect((await get('/other')).status).toBe(404);
    expect((await get('/systemsmanager/parameters/get?name=x')).status).toBe(501);
    expect((await get('/secretsmanager/get?secretId=s', { [TOKEN_HEADER]: TOKEN }, 'POST')).status).toBe(405);
  });

  it.each([
    [new CofferNotFoundError('x', { code: 'not_found' }), 400, 'ResourceNotFoundException'],
    [new CofferAccessDeniedError('denied by policy', { code: 'permission_denied' }), 400, 'AccessDeniedException'],
    [
      new CofferInvalidRequestError('scheduled for deletion', { code: 'invalid_request' }),
      400,
      'InvalidRequestException',
    ],
    [new CofferNetworkError('ECONNREFUSED', { code: 'network' }), 502, 'InternalServiceError'],
    [new CofferServerError('boom', { status: 500, code: 'internal' }), 500, 'InternalServiceError'],
  ])('answers %o in the Secrets Manager error shape', async (error, status, type) => {
    const source = new FakeSource();
    source.errors.set('s', error);
    await start(source);
    const res = await get('/secretsmanager/get?secretId=s');
    expect(res.status).toBe(status);
    expect(res.body.__type).toBe(type);
    expect(JSON.stringify(res.body)).not.toContain('ECONNREFUSED');
  });

  it('remembers a not-found answer for the negative TTL', async () => {
    const source = new FakeSource();
    await start(source, { cache: { negativeTtlMs: 60_000 } });
    expect((await get('/secretsmanager/get?secretId=missing')).status).toBe(400);
    expect((await get('/secretsmanager/get?secretId=missing')).status).toBe(400);
    expect(source.fetches).toHaveLength(1);
  });

  it('refreshNow=true fetches even on a fresh hit', async () => {
    const source = new FakeSource();
    source.values.set('s', 'one');
    await start(source);
    await get('/secretsmanager/get?secretId=s');
    source.values.set('s', 'two');
    expect((await get('/secretsmanager/get?secretId=s')).body.SecretString).toBe('one');
    expect((await get('/secretsmanager/get?secretId=s&refreshNow=true')).body.SecretString).toBe('two');
    expect((await get('/secretsmanager/get?secretId=s')).body.SecretString).toBe('two');
    expect(source.fetches).toHaveLength(2);
  });

  it('with the cache off, every request reads Coffer', async () => {
    const source = new FakeSource();
    source.values.set('s', 'v');
    await start(source, { cache: { enabled: false } });
    await get('/secretsmanager/get?secretId=s');
    await get('/secretsmanager/get?secretId=s');
    expect(source.fetches).toHaveLength(2);
  });

  it('keeps at most maxConnections calls to Coffer in flight', async () => {
    const source = new FakeSource();
    for (const n of [1, 2, 3, 4, 5, 6]) source.values.set(`s${n}`, `v${n}`);
    let open: () => void = () => {};
    source.gate = new Promise((resolve) => {
      open = resolve;
    });
    await start(source, { maxConnections: 2 });
    const all = Promise.all([1, 2, 3, 4, 5, 6].map((n) => get(`/secretsmanager/get?secretId=s${n}`)));
    // Every request has arrived (and waits on the gate or the limit) before the gate opens.
    await waitFor('all six requests to arrive', () => server!.stats().requests >= 6, { intervalMs: 5 });
    expect(source.inFlight).toBe(2);
    open();
    const results = await all;
    expect(results.map((r) => r.body.SecretString)).toEqual(['v1', 'v2', 'v3', 'v4', 'v5', 'v6']);
    expect(source.maxInFlight).toBe(2);
  });

  it('checkNow (run on every INVOKE) re-confirms hot secrets at once, and a rotation is served after it', async () => {
    const source = new FakeSource();
    source.values.set('s', 'one');
    let now = 0;
    await start(source, { now: () => now, cache: { checkIntervalMs: 60_000, staleWhileRevalidateMs: 0 } });
    await get('/secretsmanager/get?secretId=s');
    now = 29_000;
    await server!.checkNow();
    expect(source.checks).toBe(0); // confirmed less than half an interval ago
    source.values.set('s', 'two');
    now = 31_000;
    await server!.checkNow();
    expect(source.checks).toBe(1);
    expect(source.fetches).toHaveLength(2);
    expect((await get('/secretsmanager/get?secretId=s')).body.SecretString).toBe('two');
  });

  it('bounds the entries it keeps (LRU)', async () => {
    const source = new FakeSource();
    for (const n of [1, 2, 3]) source.values.set(`s${n}`, `v${n}`);
    await start(source, { cache: { maxEntries: 2 } });
    for (const n of [1, 2, 3, 1]) await get(`/secretsmanager/get?secretId=s${n}`);
    expect(source.fetches.map((f) => f.secretId)).toEqual(['s1', 's2', 's3', 's1']);
    expect(server!.stats()).toMatchObject({ entries: 2, evictions: 2 });
  });
});

/** node:http, since fetch will not send a `Host` of our choosing. */
function getWithHost(host: string, path = '/secretsmanager/get?secretId=s'): Promise<{ status: number; body: string }> {
  const { port } = server!;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { host, [TOKEN_HEADER]: TOKEN } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('Host header (DNS rebinding)', () => {
  it('refuses Host: evil.example with 421 even with the right token, without reading Coffer', async () => {
    const source = new FakeSource();
    source.values.set('s', 'v');
    await start(source);
    for (const host of ['evil.example', `evil.example:${server!.port}`, 'localhost.evil.example']) {
      const res = await getWithHost(host);
      expect(res.status, host).toBe(421);
      expect(JSON.parse(res.body)).toEqual({ __type: 'MisdirectedRequest', message: expect.stringMatching(/Host/) });
    }
    expect(source.fetches).toHaveLength(0);
  });

  it('serves loopback names, with or without port', async () => {
    const source = new FakeSource();
    source.values.set('s', 'v');
    await start(source);
    for (const host of [`localhost:${server!.port}`, `127.0.0.1:${server!.port}`, '[::1]:2773', 'localhost']) {
      expect((await getWithHost(host)).status, host).toBe(200);
    }
  });

  it('serves configured names besides loopback', async () => {
    const source = new FakeSource();
    source.values.set('s', 'v');
    await start(source, { allowedHosts: { names: ['cache.internal'] } });
    expect((await getWithHost('cache.internal:2773')).status).toBe(200);
    expect((await getWithHost('127.0.0.1')).status).toBe(200);
    expect((await getWithHost('evil.example')).status).toBe(421);
  });

  it('refuses an HTTP/1.0 request without a Host', async () => {
    const source = new FakeSource();
    source.values.set('s', 'v');
    await start(source);
    const response = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(server!.port, '127.0.0.1', () =>
        socket.end(`GET /secretsmanager/get?secretId=s HTTP/1.0\r\n${TOKEN_HEADER}: ${TOKEN}\r\n\r\n`),
      );
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.on('error', reject);
    });
    expect(response).toMatch(/^HTTP\/1\.1 421 /);
    expect(source.fetches).toHaveLength(0);
  });
});
