import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryAuditSink } from '../../../../lambdas/adapters/memory/memory-audit-sink.ts';
import type { BrokerRequest } from '../../../../lambdas/broker/http-types.ts';
import { AuditHasher } from '../../../../lambdas/core/audit/audit-hmac.ts';
import { AuditLog } from '../../../../lambdas/core/audit/audit-log.ts';
import type { AllowedHostsOptions } from '../../../../lambdas/core/auth/allowed-hosts.ts';
import { ConsoleAssets } from '../../../../lambdas/entrypoints/local/console-assets.ts';
import {
  CROSS_SITE_OPERATION,
  LocalHttpServer,
  MISDIRECTED_OPERATION,
} from '../../../../lambdas/entrypoints/local/http-server.ts';

const servers: LocalHttpServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(
  options: {
    allowedHosts?: AllowedHostsOptions;
    exclude?: boolean;
    console?: ConsoleAssets;
    ownOrigins?: string[];
  } = {},
) {
  const handled: BrokerRequest[] = [];
  const broker = {
    handle: async (request: BrokerRequest) => {
      handled.push(request);
      return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
    },
  };
  const sink = new MemoryAuditSink();
  const audit = new AuditLog({
    sink,
    hasher: new AuditHasher(Buffer.alloc(32, 1)),
    filters: options.exclude ? [{ operation: MISDIRECTED_OPERATION }] : [],
  });
  const server = new LocalHttpServer(broker, {
    host: '127.0.0.1',
    port: 0,
    audit,
    console: options.console,
    ownOrigins: options.ownOrigins,
    ...(options.allowedHosts === undefined ? {} : { allowedHosts: options.allowedHosts }),
  });
  servers.push(server);
  const { port } = await server.listen();
  return { port, handled, sink };
}

/** node:http, since fetch will not send a `Host` of our choosing. */
function request(
  port: number,
  host: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: body === undefined ? 'GET' : 'POST',
        path: '/v1/sys/health',
        headers: { host, ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `method path` with these headers, from 127.0.0.1 to the server's own `Host`. */
function call(
  port: number,
  method: string,
  urlPath: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A raw HTTP/1.0 request without any `Host`, which node:http cannot send. */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(text));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

describe('Class: LocalHttpServer', () => {
  describe('Host header', () => {
    it('refuses Host: evil.example with 421 and a JSON error, without reaching the broker, and audits it', async () => {
      const { port, handled, sink } = await start();
      const res = await request(port, `evil.example:${port}`, { 'content-type': 'application/json' }, '{"a":1}');
      expect(res.status).toBe(421);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.headers.connection).toBe('close');
      expect(JSON.parse(res.body)).toEqual({
        error: { code: 'misdirected_request', message: expect.stringMatching(/Host/), requestId: expect.any(String) },
      });
      expect(handled).toEqual([]);
      const records = sink.records();
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({
        type: 'response',
        operation: MISDIRECTED_OPERATION,
        outcome: 'denied',
        status: 421,
        sourceIp: '127.0.0.1',
        request: { host: `evil.example:${port}`, method: 'POST' },
        requestId: JSON.parse(res.body).error.requestId,
      });
    });

    it('answers an AWS JSON request for another Host in the AWS error shape', async () => {
      const { port, handled } = await start();
      const res = await request(port, 'evil.example', { 'x-amz-target': 'secretsmanager.GetSecretValue' }, '{}');
      expect(res.status).toBe(421);
      expect(JSON.parse(res.body)).toEqual({ __type: 'MisdirectedRequest', message: expect.any(String) });
      expect(handled).toEqual([]);
    });

    it.each(['127.0.0.1', 'localhost', '[::1]', '127.0.0.2'])(
      'serves the loopback name %s, with or without port',
      async (name) => {
        const { port, handled, sink } = await start();
        expect((await request(port, `${name}:${port}`)).status).toBe(200);
        expect((await request(port, name)).status).toBe(200);
        expect(handled).toHaveLength(2);
        expect(sink.records()).toEqual([]);
      },
    );

    it('serves configured names, and only loopback and those', async () => {
      const { port, handled } = await start({ allowedHosts: { names: ['coffer.internal'] } });
      expect((await request(port, 'Coffer.Internal:8200')).status).toBe(200);
      expect((await request(port, 'coffer.internal.evil.example')).status).toBe(421);
      expect((await request(port, 'evil@coffer.internal')).status).toBe(421);
      expect(handled).toHaveLength(1);
    });

    it('refuses loopback names when told they are not served', async () => {
      const { port, handled } = await start({ allowedHosts: { names: ['coffer.internal'], loopback: false } });
      expect((await request(port, `127.0.0.1:${port}`)).status).toBe(421);
      expect(handled).toEqual([]);
    });

    it('refuses an HTTP/1.0 request without a Host', async () => {
      const { port, handled, sink } = await start();
      const response = await rawRequest(port, 'GET /v1/sys/health HTTP/1.0\r\n\r\n');
      expect(response).toMatch(/^HTTP\/1\.1 421 /);
      expect(handled).toEqual([]);
      expect(sink.records()[0]).toMatchObject({ operation: MISDIRECTED_OPERATION, request: { host: null } });
      const withHost = await rawRequest(port, 'GET /v1/sys/health HTTP/1.0\r\nHost: localhost\r\n\r\n');
      expect(withHost).toMatch(/^HTTP\/1\.1 200 /);
    });

    it('honours an audit exclusion of refused hosts', async () => {
      const { port, sink } = await start({ exclude: true });
      expect((await request(port, 'evil.example')).status).toBe(421);
      expect(sink.records()).toEqual([]);
    });
  });

  describe('cross-site writes', () => {
    it('refuses a POST a browser says another site made, before the broker, with 403 and an audit record', async () => {
      const { port, handled, sink } = await start();
      const res = await call(
        port,
        'POST',
        '/v1/auth/approle/login',
        { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', 'content-type': 'text/plain' },
        '{"role_id":"r","secret_id":"s"}',
      );
      expect(res.status).toBe(403);
      expect(JSON.parse(res.body)).toEqual({
        error: {
          code: 'cross_site_request',
          message: 'a cross-site request may not change anything here',
          requestId: expect.any(String),
        },
      });
      expect(handled).toEqual([]);
      expect(sink.records()).toEqual([
        expect.objectContaining({
          operation: CROSS_SITE_OPERATION,
          outcome: 'denied',
          status: 403,
          errorCode: 'cross_site_request',
          request: { host: `127.0.0.1:${port}`, method: 'POST', origin: 'https://evil.example' },
        }),
      ]);
      // Nothing of the body reaches the record.
      expect(JSON.stringify(sink.records())).not.toContain('secret_id');
    });

    it('refuses a write whose Origin is another server even without Sec-Fetch-Site', async () => {
      const { port, handled } = await start();
      const res = await call(port, 'DELETE', '/v1/secret/metadata/x', { origin: 'http://127.0.0.1:1' });
      expect(res.status).toBe(403);
      expect(handled).toEqual([]);
    });

    it('lets same-origin writes, reads from anywhere, and clients without browser headers through', async () => {
      const { port, handled, sink } = await start();
      const self = `http://127.0.0.1:${port}`;
      expect(
        (await call(port, 'POST', '/v1/secrets', { origin: self, 'sec-fetch-site': 'same-origin' }, '{}')).status,
      ).toBe(200);
      expect((await call(port, 'GET', '/v1/secret/list', { origin: 'https://evil.example' })).status).toBe(200);
      expect((await call(port, 'POST', '/v1/secrets', {}, '{}')).status).toBe(200);
      expect(handled).toHaveLength(3);
      expect(sink.records()).toEqual([]);
    });

    it("lets a write from the server's public origin through (a browser behind a TLS-terminating proxy)", async () => {
      const { port, handled } = await start({ ownOrigins: ['https://coffer.example.com'] });
      const proxied = { origin: 'https://coffer.example.com', 'sec-fetch-site': 'same-origin' };
      expect((await call(port, 'POST', '/v1/secrets', proxied, '{}')).status).toBe(200);
      expect((await call(port, 'POST', '/v1/secrets', { origin: 'https://evil.example' }, '{}')).status).toBe(403);
      expect(handled).toHaveLength(1);
    });

    it('answers an AWS JSON client in its own error shape', async () => {
      const { port } = await start();
      const res = await call(
        port,
        'POST',
        '/',
        { 'x-amz-target': 'secretsmanager.ListSecrets', 'sec-fetch-site': 'cross-site' },
        '{}',
      );
      expect(res.status).toBe(403);
      expect(JSON.parse(res.body)).toEqual({ __type: 'AccessDeniedException', message: expect.any(String) });
    });
  });

  describe('the web console', () => {
    function consoleDir(): ConsoleAssets {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-console-'));
      mkdirSync(path.join(dir, 'assets'));
      writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>console</title>');
      writeFileSync(path.join(dir, 'assets', 'app-X.js'), 'void 0');
      const assets = ConsoleAssets.load(dir);
      rmSync(dir, { recursive: true, force: true });
      return assets;
    }

    it('serves /ui/ itself with the security headers; the API still goes to the broker', async () => {
      const { port, handled } = await start({ console: consoleDir() });
      const page = await call(port, 'GET', '/ui/?ignored=1');
      expect(page.status).toBe(200);
      expect(page.body).toBe('<!doctype html><title>console</title>');
      expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(page.headers['cache-control']).toBe('no-store');
      expect((await call(port, 'GET', '/ui/assets/app-X.js')).headers['cache-control']).toContain('immutable');
      expect(handled).toEqual([]);
      expect((await call(port, 'GET', '/v1/sys/health')).status).toBe(200);
      expect(handled).toHaveLength(1);
    });

    it('checks the Host before serving the console too (DNS rebinding)', async () => {
      const { port } = await start({ console: consoleDir() });
      expect((await call(port, 'GET', '/ui/', { host: 'evil.example' })).status).toBe(421);
    });

    it('leaves /ui/ to the broker when there is no console', async () => {
      const { port, handled } = await start();
      await call(port, 'GET', '/ui/');
      expect(handled.map((r) => r.rawPath)).toEqual(['/ui/']);
    });
  });
});
