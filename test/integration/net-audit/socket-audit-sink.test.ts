import { createSocket } from 'node:dgram';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { SocketAuditSink } from '../../../lambdas/adapters/net-audit/socket/socket-audit-sink.ts';
import type { AuditRecord } from '../../../lambdas/core/audit/audit-types.ts';
import { loopbackEgress } from '../../support/egress.ts';
import { waitFor } from '../../support/wait-for.ts';

const record = (requestId: string): AuditRecord => ({
  type: 'request',
  time: '2026-01-02T03:04:05.000Z',
  requestId,
  operation: 'secret.read',
  path: 'secrets/app/db',
  sourceIp: '10.0.0.1',
  request: { note: 'a\nb\u2028c' },
});

describe('Class: SocketAuditSink', () => {
  it('writes one JSON line per record over TCP, reconnecting after the collector drops the connection', async () => {
    let received = '';
    const connections: net.Socket[] = [];
    const server = net.createServer((socket) => {
      connections.push(socket);
      socket.on('data', (chunk) => {
        received += chunk.toString('utf8');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const sink = new SocketAuditSink({ address: `127.0.0.1:${port}`, socket_type: 'tcp' }, loopbackEgress());
    try {
      await sink.append(record('one'), { durable: true });
      await sink.append(record('two'), { durable: true });
      await waitFor('two lines', () => received.split('\n').length === 3);
      connections[0]!.destroy();
      // The broken connection may swallow one record (TCP has no acknowledgement); within a few, it reconnects.
      await waitFor('a record on a new connection', async () => {
        await sink.append(record('three'), { durable: true }).catch(() => {});
        return connections.length === 2 && received.includes('"three"');
      });
      const lines = received.split('\n').filter(Boolean);
      expect(lines.slice(0, 2).map((line) => JSON.parse(line))).toEqual([record('one'), record('two')]);
      // Line separators inside strings are escaped, so a line reader never splits a record.
      expect(lines[0]).toContain('\\u2028');
    } finally {
      await sink.close();
      for (const socket of connections) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('sends one JSON datagram per record over UDP', async () => {
    const server = createSocket('udp4');
    const datagrams: string[] = [];
    server.on('message', (message) => datagrams.push(message.toString('utf8')));
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
    const sink = new SocketAuditSink(
      { address: `127.0.0.1:${server.address().port}`, socket_type: 'udp' },
      loopbackEgress(),
    );
    try {
      await sink.append(record('udp'), { durable: false });
      const [datagram] = await waitFor('a datagram', () => (datagrams.length > 0 ? datagrams : undefined));
      expect(JSON.parse(datagram!)).toEqual(record('udp'));
    } finally {
      await sink.close();
      server.close();
    }
  });
});
