import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsEgressGuard } from '../../../lambdas/adapters/egress/dns-egress-guard.ts';
import { SyslogAuditSink } from '../../../lambdas/adapters/net-audit/syslog/syslog-audit-sink.ts';
import type { AuditRecord } from '../../../lambdas/core/audit/audit-types.ts';
import { SyslogDeviceOptionsSchema } from '../../../lambdas/core/audit/devices/audit-device-config.ts';
import { EgressPolicy } from '../../../lambdas/core/egress/egress-policy.ts';
import { loopbackEgress } from '../../support/egress.ts';
import { startRsyslog, type TestRsyslog } from '../../support/rsyslog.ts';
import { waitFor } from '../../support/wait-for.ts';

let rsyslog: TestRsyslog;

beforeAll(async () => {
  rsyslog = await startRsyslog();
}, 60_000);

afterAll(async () => {
  await rsyslog?.stop();
});

/** RSYSLOG_SyslogProtocol23Format: the fields rsyslog parsed out of an RFC 5424 message, in order. */
const RFC5424_LINE = /^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (.*)$/;

function record(requestId: string, extra: Partial<AuditRecord> = {}): AuditRecord {
  return {
    type: 'request',
    time: '2026-01-02T03:04:05.000Z',
    requestId,
    operation: 'secret.read',
    path: 'secrets/app/db',
    sourceIp: '10.0.0.1',
    request: { token: 'hmac-sha256:abc', note: 'line one\nline two ünïcode' },
    ...extra,
  };
}

function sinkFor(options: Record<string, unknown>, egress = loopbackEgress()): SyslogAuditSink {
  return new SyslogAuditSink(SyslogDeviceOptionsSchema.parse(options), egress, { timeoutMs: 10_000 });
}

/** The parsed messages rsyslog wrote for `input` that carry `requestId`. */
async function receivedFor(input: 'udp' | 'tcp' | 'tls', requestIds: readonly string[]) {
  return waitFor(`rsyslog to write ${requestIds.join(', ')} (${input})`, () => {
    const parsed = rsyslog.received(input).map((line) => {
      const match = RFC5424_LINE.exec(line);
      if (match === null) throw new Error(`not an RFC 5424 line: ${line}`);
      const [, pri, timestamp, hostname, appName, procId, msgId, sd, msg] = match;
      return { pri, timestamp, hostname, appName, procId, msgId, sd, msg: JSON.parse(msg!) as AuditRecord };
    });
    const found = requestIds.map((id) => parsed.find((p) => p.msg.requestId === id));
    return found.every((f) => f !== undefined) ? found : undefined;
  });
}

describe('Class: SyslogAuditSink against rsyslog', () => {
  it('sends RFC 5424 messages over UDP that rsyslog parses field by field', async () => {
    const sink = sinkFor({
      address: `127.0.0.1:${rsyslog.udpPort}`,
      transport: 'udp',
      facility: 'local4',
      app_name: 'coffer-test',
    });
    await sink.append(record('udp-1'), { durable: true });
    await sink.close();
    const [message] = await receivedFor('udp', ['udp-1']);
    expect(message).toMatchObject({
      pri: String(20 * 8 + 6),
      timestamp: '2026-01-02T03:04:05.000Z',
      appName: 'coffer-test',
      procId: '-',
      msgId: 'request',
      sd: '-',
      msg: record('udp-1'),
    });
  });

  it('sends octet-counted messages over TCP (RFC 6587), several on one connection, large ones whole', async () => {
    const sink = sinkFor({ address: `127.0.0.1:${rsyslog.tcpPort}`, transport: 'tcp' });
    const big = record('tcp-big', { response: { data: 'x'.repeat(20_000) } });
    await sink.append(record('tcp-1'), { durable: true });
    await sink.append(record('tcp-2', { type: 'response', outcome: 'denied' }), { durable: true });
    await sink.append(big, { durable: true });
    await sink.close();
    const [first, second, third] = await receivedFor('tcp', ['tcp-1', 'tcp-2', 'tcp-big']);
    expect(first).toMatchObject({ pri: '38', msgId: 'request', msg: record('tcp-1') });
    expect(second).toMatchObject({ pri: '37', msgId: 'response' });
    expect(third?.msg).toEqual(big);
  });

  it('sends over TCP+TLS (RFC 5425) to a collector whose certificate chains to the given CA', async () => {
    const sink = sinkFor({ address: `127.0.0.1:${rsyslog.tlsPort}`, transport: 'tls', ca_pem: rsyslog.caPem });
    await sink.append(record('tls-1'), { durable: true });
    await sink.append(record('tls-2'), { durable: true });
    await sink.close();
    const [message] = await receivedFor('tls', ['tls-1', 'tls-2']);
    expect(message).toMatchObject({ pri: '38', msgId: 'request', msg: record('tls-1') });
  });

  it('refuses a TLS collector whose certificate does not chain to the given CA, and sends it nothing', async () => {
    const sink = sinkFor({ address: `127.0.0.1:${rsyslog.tlsPort}`, transport: 'tls', ca_pem: rsyslog.otherCaPem });
    await expect(sink.append(record('tls-untrusted'), { durable: true })).rejects.toMatchObject({
      code: expect.stringMatching(/CERT|SIGNATURE|ISSUER/),
    });
    await sink.close();
    // A trusted record sent after it is there, and the untrusted one is not: rsyslog writes in arrival order.
    const trusted = sinkFor({ address: `127.0.0.1:${rsyslog.tlsPort}`, transport: 'tls', ca_pem: rsyslog.caPem });
    await trusted.append(record('tls-after'), { durable: true });
    await trusted.close();
    await receivedFor('tls', ['tls-after']);
    expect(rsyslog.received('tls').some((line) => line.includes('tls-untrusted'))).toBe(false);
  });

  it('refuses a collector that is not on the egress allow-list before dialling it', async () => {
    const closed = new DnsEgressGuard(EgressPolicy.parse('10.0.0.0/8'));
    const sink = sinkFor({ address: `127.0.0.1:${rsyslog.tcpPort}`, transport: 'tcp' }, closed);
    await expect(sink.append(record('tcp-refused'), { durable: true })).rejects.toThrow(/allow-list|loopback/);
    await sink.close();
  });

  it('fails a record when nothing listens at the address (the device counts it; another device records it)', async () => {
    const down = sinkFor({ address: '127.0.0.1:1', transport: 'tcp' });
    await expect(down.append(record('tcp-down'), { durable: true })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await down.close();
  });
});
