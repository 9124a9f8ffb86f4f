import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect, createServer as createNetServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { builtEntry } from '../../bin/built.mjs';
import { CofferClient } from '../../lambdas/sdk/client.ts';
import { type SecretsCacheServer, startSecretsCache, TOKEN_HEADER } from '../../lambdas/sdk/secrets-server.ts';
import { api } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';
import { waitFor } from '../support/wait-for.ts';

const current = useServer();

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** The Lambda Extensions API, as far as an extension sees it: register, event/next, init/error. */
class FakeRuntimeApi {
  readonly registrations: Array<{ headers: IncomingMessage['headers']; body: unknown; listenerUp: boolean }> = [];
  readonly nextCalls: Array<IncomingMessage['headers']> = [];
  readonly initErrors: Array<{ headers: IncomingMessage['headers']; body: unknown }> = [];
  private readonly waiting: ServerResponse[] = [];
  private readonly queued: unknown[] = [];
  private server: Server | undefined;

  constructor(private readonly extensionPort: number) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  push(event: unknown): void {
    const res = this.waiting.shift();
    if (res === undefined) this.queued.push(event);
    else this.respond(res, event);
  }

  async stop(): Promise<void> {
    for (const res of this.waiting.splice(0)) res.destroy();
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private respond(res: ServerResponse, event: unknown): void {
    res.writeHead(200, { 'content-type': 'application/json', 'lambda-extension-event-identifier': 'evt' });
    res.end(JSON.stringify(event));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text === '' ? undefined : (JSON.parse(text) as unknown);
    if (req.method === 'POST' && req.url === '/2020-01-01/extension/register') {
      this.registrations.push({ headers: req.headers, body, listenerUp: await portOpen(this.extensionPort) });
      res.writeHead(200, { 'content-type': 'application/json', 'lambda-extension-identifier': 'ext-id-1' });
      res.end(JSON.stringify({ functionName: 'fn', functionVersion: '$LATEST', handler: 'index.handler' }));
    } else if (req.method === 'GET' && req.url === '/2020-01-01/extension/event/next') {
      this.nextCalls.push(req.headers);
      const event = this.queued.shift();
      if (event === undefined) this.waiting.push(res);
      else this.respond(res, event);
    } else if (req.method === 'POST' && req.url === '/2020-01-01/extension/init/error') {
      this.initErrors.push({ headers: req.headers, body });
      res.writeHead(202);
      res.end('{"status":"OK"}');
    } else {
      res.writeHead(404);
      res.end();
    }
  }
}

function spawnExtension(env: Record<string, string>): {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
} {
  // The compiled extension (`npm run build`), as the layer runs a compiled bundle: no TypeScript at run time.
  const child = spawn(process.execPath, ['--enable-source-maps', fileURLToPath(builtEntry('extension-main'))], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => out };
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('Lambda extension process against a fake Runtime API and a running Coffer', () => {
  it('listens before registering, serves secrets with the session token, loops on events and exits 0 on SHUTDOWN', async () => {
    const { address, rootToken } = current();
    await api(address, rootToken, 'PUT', '/v1/secret/data/ext/life', { value: 'life-value' });
    const port = await freePort();
    const runtime = new FakeRuntimeApi(port);
    const runtimeApi = await runtime.start();
    cleanups.push(() => runtime.stop());
    const ext = spawnExtension({
      AWS_LAMBDA_RUNTIME_API: runtimeApi,
      AWS_SESSION_TOKEN: 'session-token',
      COFFER_ADDR: address,
      COFFER_TOKEN: rootToken,
      PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(port),
    });
    cleanups.push(async () => {
      if (ext.child.exitCode === null) ext.child.kill('SIGKILL');
    });

    await waitFor('the first event/next', () => runtime.nextCalls.length === 1, { intervalMs: 10 });
    expect(runtime.registrations).toHaveLength(1);
    const [registration] = runtime.registrations;
    expect(registration!.headers['lambda-extension-name']).toBe('coffer-extension');
    expect(registration!.body).toEqual({ events: ['INVOKE', 'SHUTDOWN'] });
    expect(registration!.listenerUp).toBe(true);
    expect(runtime.nextCalls[0]!['lambda-extension-identifier']).toBe('ext-id-1');

    const url = `http://127.0.0.1:${port}/secretsmanager/get?secretId=ext/life`;
    const ok = await fetch(url, { headers: { [TOKEN_HEADER]: 'session-token' } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({
      Name: 'ext/life',
      SecretString: 'life-value',
      VersionStages: ['AWSCURRENT'],
    });
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { [TOKEN_HEADER]: 'session-tokeN' } })).status).toBe(403);

    runtime.push({ eventType: 'INVOKE', deadlineMs: Date.now() + 3000, requestId: 'r1' });
    await waitFor('the event/next after INVOKE', () => runtime.nextCalls.length === 2, { intervalMs: 10 });
    runtime.push({ eventType: 'SHUTDOWN', shutdownReason: 'spindown', deadlineMs: Date.now() + 2000 });
    expect(await ext.exited).toBe(0);
    expect(await portOpen(port)).toBe(false);
    expect(ext.output()).not.toContain('life-value');
  });

  it('reports a configuration error through init/error and exits 1', async () => {
    const port = await freePort();
    const runtime = new FakeRuntimeApi(port);
    const runtimeApi = await runtime.start();
    cleanups.push(() => runtime.stop());
    const ext = spawnExtension({ AWS_LAMBDA_RUNTIME_API: runtimeApi, AWS_SESSION_TOKEN: 'session-token' });
    expect(await ext.exited).toBe(1);
    expect(runtime.initErrors).toHaveLength(1);
    expect(runtime.initErrors[0]!.headers['lambda-extension-identifier']).toBe('ext-id-1');
    expect(runtime.initErrors[0]!.headers['lambda-extension-function-error-type']).toBe('Extension.ConfigurationError');
    expect(JSON.stringify(runtime.initErrors[0]!.body)).toContain('COFFER_ADDR');
  });
});

describe('startSecretsCache against a running Coffer', () => {
  /** A Coffer client whose fetch counts the requests that reach Coffer, by area. */
  function countingClient() {
    const { address, rootToken } = current();
    const counts = { data: 0, metadata: 0 };
    const fetch = ((input: URL | string | Request, init?: RequestInit) => {
      const pathname = new URL(input.toString()).pathname;
      if (pathname.startsWith('/v1/secret/data/')) counts.data++;
      if (pathname.startsWith('/v1/secret/metadata/')) counts.metadata++;
      return globalThis.fetch(input, init);
    }) as typeof globalThis.fetch;
    return {
      coffer: new CofferClient({ endpoint: address, auth: { token: rootToken }, cache: false, fetch, env: {} }),
      counts,
    };
  }

  async function start(options: Partial<Parameters<typeof startSecretsCache>[0]> = {}) {
    const { coffer, counts } = countingClient();
    const server: SecretsCacheServer = await startSecretsCache({ coffer, port: 0, token: 'tok', ...options });
    cleanups.push(() => server.close());
    const get = async (query: string) => {
      const res = await fetch(`${server.address}/secretsmanager/get?${query}`, { headers: { [TOKEN_HEADER]: 'tok' } });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    return { server, counts, get };
  }

  it('serves cache hits without reaching Coffer', async () => {
    const { address, rootToken } = current();
    await api(address, rootToken, 'PUT', '/v1/secret/data/ext/hit', { value: 'hit-value' });
    const { counts, get } = await start({ cache: { checkIntervalMs: 60_000 } });
    for (let i = 0; i < 20; i++) expect((await get('secretId=ext/hit')).body.SecretString).toBe('hit-value');
    expect(counts).toEqual({ data: 1, metadata: 0 });
  });

  it('remembers not-found for the negative TTL, so a missing secret in a loop costs one call', async () => {
    const { counts, get } = await start({ cache: { negativeTtlMs: 60_000 } });
    for (let i = 0; i < 5; i++) {
      const res = await get('secretId=ext/never');
      expect(res.status).toBe(400);
      expect(res.body.__type).toBe('ResourceNotFoundException');
    }
    expect(counts.data).toBe(1);
  });

  it('refreshNow=true reads the new value at once after a rotation', async () => {
    const { address, rootToken } = current();
    await api(address, rootToken, 'PUT', '/v1/secret/data/ext/refresh', { value: 'old' });
    const { get } = await start({ cache: { checkIntervalMs: 60_000 } });
    expect((await get('secretId=ext/refresh')).body.SecretString).toBe('old');
    await api(address, rootToken, 'PUT', '/v1/secret/data/ext/refresh', { value: 'new' });
    expect((await get('secretId=ext/refresh')).body.SecretString).toBe('old');
    expect((await get('secretId=ext/refresh&refreshNow=true')).body.SecretString).toBe('new');
    expect((await get('secretId=ext/refresh')).body.SecretString).toBe('new');
  });

  it('serves the new AWSCURRENT within the staleness bound after each rotation, without refreshNow', async () => {
    const { address, rootToken } = current();
    const checkIntervalMs = 200;
    const staleWhileRevalidateMs = 200;
    const bound = checkIntervalMs + staleWhileRevalidateMs;
    await api(address, rootToken, 'PUT', '/v1/secret/data/ext/rotating', { value: 'r0' });
    const { get, counts } = await start({ cache: { checkIntervalMs, staleWhileRevalidateMs } });
    expect((await get('secretId=ext/rotating')).body.SecretString).toBe('r0');
    const staleness: number[] = [];
    for (let n = 1; n <= 3; n++) {
      const put = await api(address, rootToken, 'PUT', '/v1/secret/data/ext/rotating', { value: `r${n}` });
      expect(put.status).toBe(200);
      const rotatedAt = performance.now();
      await waitFor(
        `the cache to serve r${n}`,
        async () => {
          const seen = (await get('secretId=ext/rotating')).body.SecretString as string;
          expect([`r${n - 1}`, `r${n}`]).toContain(seen);
          return seen === `r${n}`;
        },
        { intervalMs: 5 },
      );
      staleness.push(performance.now() - rotatedAt);
    }
    for (const ms of staleness) expect(ms).toBeLessThanOrEqual(bound + checkIntervalMs);
    // Most of those checks found the version unchanged and fetched nothing: values were fetched once per rotation.
    expect(counts.data).toBe(4);
  });

  it('keeps at most the configured number of secrets (LRU)', async () => {
    const { address, rootToken } = current();
    for (const n of [1, 2, 3]) await api(address, rootToken, 'PUT', `/v1/secret/data/ext/lru/${n}`, { value: `v${n}` });
    const { server, counts, get } = await start({ cache: { maxEntries: 2, checkIntervalMs: 60_000 } });
    for (const n of [1, 2, 3]) await get(`secretId=ext/lru/${n}`);
    expect(server.stats()).toMatchObject({ entries: 2, evictions: 1 });
    await get('secretId=ext/lru/3');
    expect(counts.data).toBe(3);
    await get('secretId=ext/lru/1');
    expect(counts.data).toBe(4);
  });
});
