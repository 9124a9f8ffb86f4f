import { describe, expect, it } from 'vitest';
import { MemoryAuditSink } from '../../../../../lambdas/adapters/memory/memory-audit-sink.ts';
import { AuditHasher } from '../../../../../lambdas/core/audit/audit-hmac.ts';
import { AuditLog } from '../../../../../lambdas/core/audit/audit-log.ts';
import type { AuditDeviceFilters } from '../../../../../lambdas/core/audit/devices/audit-device-config.ts';
import { AuditDevices, NoAuditDeviceRecordedError } from '../../../../../lambdas/core/audit/devices/audit-devices.ts';
import { AuditUnavailableError } from '../../../../../lambdas/core/errors.ts';

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5);
const clock = { now: () => NOW };
const installHasher = new AuditHasher(Buffer.alloc(32, 1));
const hasherA = new AuditHasher(Buffer.alloc(32, 2));
const hasherB = new AuditHasher(Buffer.alloc(32, 3));

const NO_FILTERS: AuditDeviceFilters = {
  exclude_operations: [],
  exclude_paths: [],
  drop_request_keys: [],
  drop_response_keys: [],
};

/** A log whose built-in device is `builtin`, plus devices `a` and `b` with their own keys and filters. */
function logWithDevices(
  filters: { a?: Partial<AuditDeviceFilters>; b?: Partial<AuditDeviceFilters> } = {},
  at: { now(): number } = clock,
) {
  const builtin = new MemoryAuditSink();
  const a = new MemoryAuditSink();
  const b = new MemoryAuditSink();
  const log = new AuditLog({ sink: builtin, hasher: installHasher, clock: at });
  log.devices.replace([
    { path: 'a', type: 'socket', sink: a, hasher: hasherA, filters: { ...NO_FILTERS, ...filters.a } },
    { path: 'b', type: 'syslog', sink: b, hasher: hasherB, filters: { ...NO_FILTERS, ...filters.b } },
  ]);
  return { log, builtin, a, b };
}

const entry = { requestId: 'r-1', operation: 'secret.write', path: 'secrets/prod/db', sourceIp: '10.0.0.1' };

describe('Class: AuditDevices', () => {
  it('writes every record to every device, each hashing sensitive values with its own key', async () => {
    const { log, a, b } = logWithDevices();
    await log.request({ ...entry, request: log.redact({ name: 'prod/db', value: 'hunter2' }, ['value']) });
    const [recordA] = a.records();
    const [recordB] = b.records();
    expect(recordA?.request).toEqual({ name: 'prod/db', value: hasherA.hmac('hunter2') });
    expect(recordB?.request).toEqual({ name: 'prod/db', value: hasherB.hmac('hunter2') });
    expect(hasherA.hmac('hunter2')).not.toBe(hasherB.hmac('hunter2'));
    expect([...a.lines, ...b.lines].join('\n')).not.toContain('hunter2');
  });

  it('lets the request through when one device fails and another records, and reports the failing one', async () => {
    const { log, a, b } = logWithDevices();
    a.failWith = Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:514 with secret detail'), {
      code: 'ECONNREFUSED',
    });
    await log.request(entry);
    expect(b.records()).toHaveLength(1);
    const health = log.devices.health();
    expect(health.find((h) => h.path === 'a')).toEqual({
      path: 'a',
      type: 'socket',
      builtin: false,
      recorded: 0,
      failures: 1,
      consecutiveFailures: 1,
      lastFailureAt: NOW,
      lastError: 'ECONNREFUSED',
    });
    expect(health.find((h) => h.path === 'b')).toMatchObject({ recorded: 1, failures: 0, lastSuccessAt: NOW });
    expect(JSON.stringify(health)).not.toContain('secret detail');
  });

  it('fails closed when every device that should record a record fails', async () => {
    const { log, a, b } = logWithDevices();
    a.failWith = new Error('down');
    b.failWith = new Error('down too');
    const refused = log.request(entry);
    await expect(refused).rejects.toBeInstanceOf(AuditUnavailableError);
    await expect(refused).rejects.toMatchObject({ cause: expect.any(NoAuditDeviceRecordedError) });
    expect(log.devices.health().map((h) => h.consecutiveFailures)).toEqual([1, 1]);
  });

  it('counts a device healthy again after its next success', async () => {
    let now = NOW;
    const { log, a } = logWithDevices({}, { now: () => now });
    a.failWith = new Error('down');
    await log.request(entry);
    a.failWith = undefined;
    now += 1000;
    await log.request(entry);
    expect(log.devices.health()[0]).toMatchObject({ recorded: 1, failures: 1, consecutiveFailures: 0 });
  });

  it('leaves a failed device alone while it backs off (1 s, doubling), unless no other device took the record', async () => {
    let now = NOW;
    const { log, a, b } = logWithDevices({}, { now: () => now });
    let attempts = 0;
    const append = a.append.bind(a);
    a.append = (record) => {
      attempts++;
      return append(record);
    };
    a.failWith = new Error('hung');
    await log.request(entry); // fails: tried again 1 s later
    now += 999;
    await log.request(entry);
    expect(attempts).toBe(1);
    now += 1;
    await log.request(entry); // fails again: 2 s now
    now += 1999;
    await log.request(entry);
    expect(attempts).toBe(2);
    expect(b.records()).toHaveLength(4);
    expect(log.devices.health()[0]).toMatchObject({ failures: 4, consecutiveFailures: 2 });
    // When the other device fails too, the one backing off is tried at once rather than the record refused untried.
    b.failWith = new Error('down');
    a.failWith = undefined;
    await log.request(entry);
    expect(attempts).toBe(3);
    expect(a.records()).toHaveLength(1);
  });

  it('refuses to write when no device is enabled at all', async () => {
    const devices = new AuditDevices({ clock });
    await expect(devices.write({ ...entry, type: 'request', time: 'now' }, { durable: false })).rejects.toThrow(
      'no audit device is enabled',
    );
  });

  it('starts with the built-in device, keyed by the install salt', async () => {
    const builtin = new MemoryAuditSink();
    const log = new AuditLog({ sink: builtin, hasher: installHasher, clock });
    await log.request({ ...entry, request: log.redact({ token: 's.abc' }, ['token']) });
    expect(builtin.records()[0]?.request).toEqual({ token: installHasher.hmac('s.abc') });
    expect(log.devices.health()).toEqual([
      expect.objectContaining({ path: 'file', type: 'file', builtin: true, recorded: 1 }),
    ]);
  });
});

describe('Filters of a device', () => {
  it('exclude exactly the operations they name', async () => {
    const { log, a, b } = logWithDevices({ a: { exclude_operations: ['secret.read'] } });
    await log.request({ ...entry, operation: 'secret.read' });
    await log.request({ ...entry, operation: 'secret.readx' });
    await log.request({ ...entry, operation: 'secret.write' });
    expect(a.records().map((r) => r.operation)).toEqual(['secret.readx', 'secret.write']);
    expect(b.records().map((r) => r.operation)).toEqual(['secret.read', 'secret.readx', 'secret.write']);
  });

  it('exclude exactly the paths their globs match', async () => {
    const { log, a } = logWithDevices({ a: { exclude_paths: ['secrets/dev/*', 'secrets/+/scratch'] } });
    const paths = ['secrets/dev/db', 'secrets/devops/db', 'secrets/team/scratch', 'secrets/team/scratch/x', 'sys/dev'];
    for (const path of paths) await log.request({ ...entry, path });
    // Policy globs: `secrets/dev/*` is below `secrets/dev/` only; `+` is exactly one segment, with nothing after it.
    expect(a.records().map((r) => r.path)).toEqual(['secrets/devops/db', 'secrets/team/scratch/x', 'sys/dev']);
  });

  it('drop exactly the request and response keys they name, at any depth, before hashing', async () => {
    const { log, a, b } = logWithDevices({
      a: { drop_request_keys: ['client_ip', 'password'], drop_response_keys: ['metadata'] },
    });
    const request = { name: 'db', password: 'pw', nested: [{ client_ip: '10.0.0.9', keep: 1 }], client_ipx: 'kept' };
    const response = { metadata: { owner: 'team' }, data: { metadata: 'deep', value: 'v' }, arn: 'arn:x' };
    await log.response({
      ...entry,
      outcome: 'ok',
      request: log.redact(request, ['password']),
      response: log.redact(response, ['value']),
    });
    const [filtered] = a.records();
    const [whole] = b.records();
    expect(filtered?.request).toEqual({ name: 'db', nested: [{ keep: 1 }], client_ipx: 'kept' });
    expect(filtered?.response).toEqual({ data: { value: hasherA.hmac('v') }, arn: 'arn:x' });
    // The other device keeps everything: a filter is its own device's.
    expect(whole?.request).toEqual({
      name: 'db',
      password: hasherB.hmac('pw'),
      nested: [{ client_ip: '10.0.0.9', keep: 1 }],
      client_ipx: 'kept',
    });
    expect(whole?.response).toMatchObject({ metadata: { owner: 'team' }, data: { metadata: 'deep' } });
    // Apart from what was dropped, the filtered record is the record.
    const {
      request: _r1,
      response: _s1,
      seq: _q1,
      prev: _p1,
      hash: _h1,
      ...restA
    } = filtered as unknown as Record<string, unknown>;
    const {
      request: _r2,
      response: _s2,
      seq: _q2,
      prev: _p2,
      hash: _h2,
      ...restB
    } = whole as unknown as Record<string, unknown>;
    expect(restA).toEqual(restB);
  });

  it('write a record no device keeps nowhere, and let the request through (the operator chose it)', async () => {
    const { log, builtin, a, b } = logWithDevices({
      a: { exclude_operations: ['sys.health'] },
      b: { exclude_paths: ['sys/*'] },
    });
    log.devices.replace(log.devices.active.filter((d) => !d.builtin));
    await log.request({ ...entry, operation: 'sys.health', path: 'sys/health' });
    expect([...builtin.lines, ...a.lines, ...b.lines]).toEqual([]);
  });

  it('never exclude the log\u2019s own system records', async () => {
    const devices = new AuditDevices({ clock });
    const sink = new MemoryAuditSink();
    devices.replace([
      { path: 'a', type: 'file', sink, hasher: hasherA, filters: { ...NO_FILTERS, exclude_operations: ['audit.x'] } },
    ]);
    await devices.write({ ...entry, operation: 'audit.x', type: 'system', time: 't' }, { durable: true });
    expect(sink.records()).toHaveLength(1);
  });
});
