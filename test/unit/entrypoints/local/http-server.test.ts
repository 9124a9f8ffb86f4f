import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryAuditSink } from '../../../../lambdas/adapters/memory/memory-audit-sink.ts';
import type { BrokerRequest } from '../../../../lambdas/broker/http-types.ts';
import { AuditHasher } from '../../../../lambdas/core/audit/audit-hmac.ts';
import { AuditLog } from '../../../../lambdas/core/audit/audit-log.ts';
import type { AllowedHostsOptions } from '../../../../lambdas/core/auth/allowed-hosts.ts';
import { LocalHttpServer, MISDIRECTED_OPERATION } from '../../../../lambdas/entrypoints/local/http-server.ts';

const servers: LocalHttpServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(options: { allowedHosts?: AllowedHostsOptions; exclude?: boolean } = {}) {
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
});
