import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.ts';
import { readJsonLines } from '../support/json-lines.js';
import { startRsyslog } from '../support/rsyslog.ts';
import { api, runCli, type ServerProcess, startServer, tempDir } from '../support/server-process.ts';
import { waitFor } from '../support/wait-for.ts';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(): Promise<{ s: ServerProcess; dir: string }> {
  const tmp = tempDir();
  const s = await startServer(path.join(tmp.dir, 'data'));
  cleanups.push(tmp.cleanup, () => s.stop());
  return { s, dir: tmp.dir };
}

const cli = (s: ServerProcess, args: string[], input?: string) =>
  runCli(args, { env: { COFFER_ADDR: s.address, COFFER_TOKEN: s.rootToken }, ...(input !== undefined && { input }) });

interface Listed {
  devices: {
    path: string;
    type: string;
    health?: { recorded: number; failures: number; consecutiveFailures: number; lastError?: string };
  }[];
}

describe('coffer audit enable|list|disable against the real server', () => {
  it('sends the records of a request to rsyslog over TCP+TLS, hashed with the device’s own key', async () => {
    const rsyslog = await startRsyslog();
    cleanups.push(() => rsyslog.stop());
    const { s, dir } = await server();
    const ca = path.join(dir, 'ca.pem');
    writeFileSync(ca, rsyslog.caPem);
    const enabled = await cli(s, [
      'audit',
      'enable',
      'syslog',
      '--collector',
      `127.0.0.1:${rsyslog.tlsPort}`,
      '--transport',
      'tls',
      '--ca-file',
      ca,
      '--app-name',
      'coffer-e2e',
    ]);
    expect(enabled.stderr).toBe('');
    expect(enabled.stdout).toContain('enabled the syslog audit device at syslog');

    const write = await api(s.address, s.rootToken, 'PUT', '/v1/secret/data/app/tls-audited', { value: 'sw0rdfish' });
    expect(write.status).toBe(200);
    const lines = await waitFor('the request and response records in rsyslog', () => {
      const mine = rsyslog.received('tls').filter((line) => line.includes(write.requestId!));
      return mine.length === 2 ? mine : undefined;
    });
    for (const line of lines) expect(line).toMatch(/^<38>1 \S+ \S+ coffer-e2e - (request|response) - \{/);
    const hashed = await cli(s, ['audit', 'hash', '--path', 'syslog'], 'sw0rdfish');
    const builtinHash = await cli(s, ['audit', 'hash'], 'sw0rdfish');
    expect(lines.join('\n')).toContain(hashed.stdout.trim());
    expect(lines.join('\n')).not.toContain(builtinHash.stdout.trim());
    expect(lines.join('\n')).not.toContain('sw0rdfish');

    const list = await cli(s, ['audit', 'list', '--output', 'json']);
    const { devices } = JSON.parse(list.stdout) as Listed;
    expect(devices.map((d) => [d.path, d.type])).toEqual([
      ['file', 'file'],
      ['syslog', 'syslog'],
    ]);
    expect(devices[1]?.health?.recorded).toBeGreaterThanOrEqual(2);
    expect(list.stdout).not.toContain('BEGIN CERTIFICATE');
  });

  it('fails requests closed once the one device left is broken, and takes them again when it is back', async () => {
    const { s } = await server();
    const port = await freePort();
    // Nothing listens there yet: the socket device fails every record, the built-in file records them.
    expect(
      (await cli(s, ['audit', 'enable', 'socket', '--path', 'siem', '--collector', `127.0.0.1:${port}`])).code,
    ).toBe(0);
    const first = await api(s.address, s.rootToken, 'PUT', '/v1/secret/data/app/one', { value: 'v1' });
    expect(first.status).toBe(200);
    const list = JSON.parse((await cli(s, ['audit', 'list', '--output', 'json'])).stdout) as Listed;
    expect(list.devices.find((d) => d.path === 'siem')?.health).toMatchObject({ lastError: 'ECONNREFUSED' });
    const health = await api(s.address, undefined, 'GET', '/v1/sys/health');
    expect(health.body.audit).toEqual({ devices: 2, failing: 1 });
    const table = await cli(s, ['audit', 'list']);
    expect(table.stdout).toMatch(/siem\s+socket\s+\d+\s+\d+\s+yes\s+-\s+ECONNREFUSED/);

    // Disabling the one device that records while the other fails would stop everything: refused, with the reason.
    const refusedDisable = await cli(s, ['audit', 'disable', 'file']);
    expect(refusedDisable.stderr).toContain('every other enabled audit device is failing (siem: ECONNREFUSED)');

    // The collector comes up; the built-in device is disabled; then the collector goes away again.
    let received = '';
    const sockets = new Set<net.Socket>();
    const listen = async () => {
      const collector = net.createServer((socket) => {
        sockets.add(socket);
        socket.on('data', (chunk) => (received += chunk.toString()));
      });
      await new Promise<void>((resolve) => collector.listen(port, '127.0.0.1', resolve));
      return collector;
    };
    let collector = await listen();
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => collector.close(resolve));
    });
    // The device is tried again once its backoff (1 s, doubling) is over.
    await waitFor(
      'the socket device to record again',
      async () => {
        await api(s.address, s.rootToken, 'GET', '/v1/sys/policies');
        const listed = JSON.parse((await cli(s, ['audit', 'list', '--output', 'json'])).stdout) as Listed;
        return listed.devices.find((d) => d.path === 'siem')?.health?.consecutiveFailures === 0;
      },
      { intervalMs: 250 },
    );
    expect((await cli(s, ['audit', 'disable', 'file'])).code).toBe(0);
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => collector.close(resolve));
    // TCP has no acknowledgement: a record may go into a connection the collector already dropped. The next dial is
    // refused, and from then on every request fails closed.
    const refused = await waitFor('a write to be refused', async () => {
      const res = await api(s.address, s.rootToken, 'PUT', '/v1/secret/data/app/two', { value: 'v2' });
      return res.status === 503 ? res : undefined;
    });
    expect(refused.body.error?.code).toBe('audit_unavailable');
    const alsoRefused = await api(s.address, s.rootToken, 'GET', '/v1/secret/data/app/one');
    expect(alsoRefused.status).toBe(503);

    collector = await listen();
    const read = await api(s.address, s.rootToken, 'GET', '/v1/secret/data/app/one');
    expect(read.status).toBe(200);
    await waitFor('the collector to receive the read', () => received.includes(read.requestId!));
    // The refused write never ran: no record, no change.
    expect((await api(s.address, s.rootToken, 'GET', '/v1/secret/data/app/two')).status).toBe(404);
  });

  it('refuses to disable the last device, and names the types the local server offers', async () => {
    const { s } = await server();
    const last = await cli(s, ['audit', 'disable', 'file']);
    expect(last.code).not.toBe(0);
    expect(last.stderr).toContain('file is the last enabled audit device');
    const s3 = await cli(s, ['audit', 'enable', 's3']);
    expect(s3.stderr).toContain('this runtime offers file, syslog, socket audit devices; s3 is not one of them');
    const traversal = await cli(s, ['audit', 'enable', 'file', '--path', 'other', '--file-name', '../escape.log']);
    expect(traversal.stderr).toContain('not a path');
  });

  it('filters drop exactly what they name on a second file device', async () => {
    const { s } = await server();
    const enabled = await cli(s, [
      'audit',
      'enable',
      'file',
      '--path',
      'reads',
      '--file-name',
      'reads.log',
      '--exclude-operation',
      'secret.write',
      '--drop-response-key',
      'versionId',
    ]);
    expect(enabled.code).toBe(0);
    await api(s.address, s.rootToken, 'PUT', '/v1/secret/data/app/f', { value: 'v' });
    const read = await api(s.address, s.rootToken, 'GET', '/v1/secret/data/app/f');
    const lines = (file: string) =>
      readJsonLines<{ operation: string; requestId: string; response?: object }>(path.join(s.dataDir, 'audit', file));
    const reads = lines('reads.log');
    const all = lines('audit.log');
    expect(reads.some((r) => r.operation === 'secret.write')).toBe(false);
    expect(all.some((r) => r.operation === 'secret.write')).toBe(true);
    const filtered = reads.find((r) => r.requestId === read.requestId && r.response !== undefined);
    const whole = all.find((r) => r.requestId === read.requestId && r.response !== undefined);
    expect(Object.keys(whole!.response!)).toContain('versionId');
    expect(Object.keys(filtered!.response!)).toEqual(Object.keys(whole!.response!).filter((k) => k !== 'versionId'));
    expect((await runCli(['audit', 'verify', '--file', path.join(s.dataDir, 'audit', 'reads.log')])).stdout).toMatch(
      /chain intact/,
    );
  });
});
