import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer, type Server } from 'node:net';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { DnsEgressGuard, guardedFetch } from '../../../../lambdas/adapters/egress/dns-egress-guard.ts';
import { EgressPolicy } from '../../../../lambdas/core/egress/egress-policy.ts';
import { PermissionDeniedError } from '../../../../lambdas/core/errors.ts';
import { guardedStream } from '../../../../lambdas/engines/shared/guarded-socket.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/** A TCP listener on loopback that counts the connections it receives. */
async function counting(): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { port: (server.address() as AddressInfo).port, connections: () => connections };
}

describe('Class: DnsEgressGuard', () => {
  it('refuses a name whose resolution lands on loopback, even under "*"', async () => {
    const guard = new DnsEgressGuard(EgressPolicy.parse('*'), async () => ['127.0.0.1']);
    await expect(guard.resolve({ host: 'rebind.example', port: 443, purpose: 'test' })).rejects.toThrow(
      PermissionDeniedError,
    );
  });

  it('returns the checked address for an allowed name, and does not ask DNS for a refused one', async () => {
    const asked: string[] = [];
    const guard = new DnsEgressGuard(EgressPolicy.parse('*.example.com'), async (host) => {
      asked.push(host);
      return ['93.184.216.34'];
    });
    expect(await guard.resolve({ host: 'api.example.com', port: 443, purpose: 'test' })).toBe('93.184.216.34');
    await expect(guard.resolve({ host: 'api.example.org', port: 443, purpose: 'test' })).rejects.toThrow(
      /not on the outbound allow-list/,
    );
    expect(asked).toEqual(['api.example.com']);
  });
});

describe('Function: guardedFetch', () => {
  it('never connects to a target off the list, and connects to one on it', async () => {
    let hits = 0;
    const server = createHttpServer((_req, res) => {
      hits++;
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server as unknown as Server);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const refused = guardedFetch(new DnsEgressGuard(EgressPolicy.parse('*')), 'provider');
    await expect(refused(url)).rejects.toThrow();
    expect(hits).toBe(0);
    const allowed = guardedFetch(new DnsEgressGuard(EgressPolicy.parse('127.0.0.1')), 'provider');
    expect(await (await allowed(url)).text()).toBe('ok');
    expect(hits).toBe(1);
  });
});

describe('Function: guardedFetch (responses)', () => {
  it('returns a redirect as it is, without following it, and sends method, headers and body', async () => {
    const seen: { method?: string; auth?: string; body: string }[] = [];
    const server = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        seen.push({ method: req.method, auth: req.headers.authorization, body });
        res.writeHead(302, { location: 'http://169.254.169.254/' });
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server as unknown as Server);
    const fetchGuarded = guardedFetch(new DnsEgressGuard(EgressPolicy.parse('127.0.0.1')), 'provider');
    const res = await fetchGuarded(`http://127.0.0.1:${(server.address() as AddressInfo).port}/keys`, {
      method: 'POST',
      headers: { authorization: 'Bearer x' },
      body: '{"a":1}',
      redirect: 'manual',
    });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('http://169.254.169.254/');
    expect(seen).toEqual([{ method: 'POST', auth: 'Bearer x', body: '{"a":1}' }]);
  });

  it('fails a response larger than 1 MiB', async () => {
    const server = createHttpServer((_req, res) => {
      res.end(Buffer.alloc(2 * 1_048_576, 97));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server as unknown as Server);
    const fetchGuarded = guardedFetch(new DnsEgressGuard(EgressPolicy.parse('127.0.0.1')), 'provider');
    await expect(fetchGuarded(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)).rejects.toThrow(
      /larger than 1048576 bytes/,
    );
  });
});

describe('Function: guardedStream', () => {
  it('gives pg a socket that refuses a target off the list before dialing it', async () => {
    const listener = await counting();
    const client = new pg.Client({
      host: '127.0.0.1',
      port: listener.port,
      user: 'x',
      password: 'secret-canary',
      connectionTimeoutMillis: 2000,
      stream: guardedStream(new DnsEgressGuard(EgressPolicy.parse('*')), 'database connection main'),
    });
    client.on('error', () => {});
    const failure = await client.connect().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(String(failure)).toMatch(/outbound connection refused: database connection main 127\.0\.0\.1/);
    expect(String(failure)).not.toContain('secret-canary');
    expect(listener.connections()).toBe(0);
  });

  it('dials the checked address for a target on the list', async () => {
    const listener = await counting();
    const client = new pg.Client({
      host: 'localhost',
      port: listener.port,
      user: 'x',
      password: 'x',
      connectionTimeoutMillis: 2000,
      stream: guardedStream(new DnsEgressGuard(EgressPolicy.parse('127.0.0.1'), async () => ['127.0.0.1']), 'db'),
    });
    client.on('error', () => {});
    await client.connect().catch(() => {});
    expect(listener.connections()).toBe(1);
  });
});
