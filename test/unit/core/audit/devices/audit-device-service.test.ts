import { describe, expect, it } from 'vitest';
import { MemoryAuditSink } from '../../../../../lambdas/adapters/memory/memory-audit-sink.ts';
import { MemoryStore } from '../../../../../lambdas/adapters/memory/memory-store.ts';
import { AuditHasher } from '../../../../../lambdas/core/audit/audit-hmac.ts';
import { AuditLog } from '../../../../../lambdas/core/audit/audit-log.ts';
import {
  type AuditDeviceConfig,
  EnableAuditDeviceSchema,
} from '../../../../../lambdas/core/audit/devices/audit-device-config.ts';
import {
  AUDIT_DEVICE_PARTITION,
  AuditDeviceService,
} from '../../../../../lambdas/core/audit/devices/audit-device-service.ts';
import {
  AlreadyExistsError,
  AuditUnavailableError,
  InvalidRequestError,
  NotFoundError,
  ValidationError,
} from '../../../../../lambdas/core/errors.ts';
import type { AuditDeviceOpener } from '../../../../../lambdas/core/ports/audit-sink.ts';
import type { Store } from '../../../../../lambdas/core/ports/store.ts';
import { FakeKeyProvider } from '../../../../support/fake-key-provider.ts';

/** Devices keep their records in memory, one sink per path, and can be broken by path. */
class MemoryOpener implements AuditDeviceOpener {
  readonly types = ['socket', 'syslog'] as const;
  readonly sinks = new Map<string, MemoryAuditSink>();
  readonly unopenable = new Set<string>();
  async open(device: AuditDeviceConfig): Promise<MemoryAuditSink> {
    if (this.unopenable.has(device.path)) throw Object.assign(new Error('cannot open'), { name: 'OpenFailed' });
    const sink = this.sinks.get(device.path) ?? new MemoryAuditSink();
    this.sinks.set(device.path, sink);
    return sink;
  }
}

function node(
  options: { store?: Store; keyProvider?: FakeKeyProvider; refreshMs?: number; clock?: { now(): number } } = {},
) {
  const store = options.store ?? new MemoryStore();
  const keyProvider = options.keyProvider ?? new FakeKeyProvider();
  const clock = options.clock ?? { now: () => 1_000 };
  const builtin = new MemoryAuditSink();
  const audit = new AuditLog({ sink: builtin, hasher: new AuditHasher(Buffer.alloc(32, 9)), clock });
  const opener = new MemoryOpener();
  const devices = new AuditDeviceService({
    store,
    keyProvider,
    clock,
    audit,
    opener,
    ...(options.refreshMs !== undefined && { refreshMs: options.refreshMs }),
  });
  return { store, keyProvider, audit, builtin, opener, devices };
}

const socket = (extra: Record<string, unknown> = {}) =>
  EnableAuditDeviceSchema.parse({ type: 'socket', options: { address: 'collector.test:9000' }, ...extra });
const entry = { requestId: 'r-1', operation: 'secret.read', path: 'secrets/app/db', sourceIp: '10.0.0.1' };

describe('Class: AuditDeviceService', () => {
  it('enables a device that records alongside the built-in one, with its own HMAC key', async () => {
    const { audit, builtin, opener, devices } = node();
    await devices.enable('siem', socket());
    await audit.request({ ...entry, request: audit.redact({ token: 's.secret' }, ['token']) });
    const siem = opener.sinks.get('siem')!;
    expect(siem.records()).toHaveLength(1);
    expect(builtin.records()).toHaveLength(1);
    const siemHash = siem.records()[0]?.request?.token;
    expect(siemHash).toBe(await devices.hmac('siem', 's.secret'));
    expect(siemHash).not.toBe(builtin.records()[0]?.request?.token);
    expect(builtin.records()[0]?.request?.token).toBe(await devices.hmac('file', 's.secret'));
  });

  it('keeps each HMAC key only wrapped under the envelope key', async () => {
    const { store, keyProvider, devices } = node();
    await devices.enable('siem', socket());
    const item = await store.get<{ devices: { wrappedKey: string; createdAt: number }[] }>(
      AUDIT_DEVICE_PARTITION,
      'devices',
    );
    const stored = item!.data.devices[0]!;
    const key = await keyProvider.unwrapDataKey(stored.wrappedKey, {
      purpose: 'audit-device-hmac',
      device: 'siem',
      created: String(stored.createdAt),
    });
    const json = JSON.stringify(item);
    expect(json).not.toContain(key.toString('hex'));
    expect(json).not.toContain(key.toString('base64'));
  });

  it('disabling one of two devices and breaking the other makes requests fail closed', async () => {
    const { audit, opener, devices } = node();
    await devices.enable('siem', socket());
    await devices.disable('file');
    await audit.request(entry);
    opener.sinks.get('siem')!.failWith = new Error('collector down');
    await expect(audit.request(entry)).rejects.toBeInstanceOf(AuditUnavailableError);
    expect((await devices.list()).map((d) => [d.path, d.health?.consecutiveFailures])).toEqual([['siem', 1]]);
  });

  it('refuses to disable the one device still recording while every other one fails', async () => {
    let now = 1_000;
    const { audit, opener, devices } = node({ clock: { now: () => now } });
    await devices.enable('siem', socket());
    opener.sinks.get('siem')!.failWith = Object.assign(new Error('down'), { code: 'ECONNREFUSED' });
    await audit.request(entry);
    await expect(devices.disable('file')).rejects.toThrow(
      'every other enabled audit device is failing (siem: ECONNREFUSED); disabling file would stop all requests',
    );
    opener.sinks.get('siem')!.failWith = undefined;
    now += 1000; // its backoff over, the collector is tried again, and takes the record
    await audit.request(entry);
    await devices.disable('file');
    expect((await devices.list()).map((d) => d.path)).toEqual(['siem']);
  });

  it('refuses to disable the last enabled device', async () => {
    const { devices } = node();
    await expect(devices.disable('file')).rejects.toThrow(InvalidRequestError);
    await expect(devices.disable('file')).rejects.toThrow(/last enabled audit device/);
    await devices.enable('siem', socket());
    await devices.disable('file');
    await expect(devices.disable('siem')).rejects.toThrow(InvalidRequestError);
  });

  it('re-enables the built-in device at its path, and only with its type and no options', async () => {
    const { devices } = node();
    await devices.enable('siem', socket());
    await expect(devices.enable('file', socket())).rejects.toThrow(ValidationError);
    await expect(devices.enable('file', EnableAuditDeviceSchema.parse({ type: 'file' }))).rejects.toThrow(
      AlreadyExistsError,
    );
    await devices.disable('file');
    expect((await devices.list()).map((d) => d.path)).toEqual(['siem']);
    await devices.enable('file', EnableAuditDeviceSchema.parse({ type: 'file' }));
    expect((await devices.list()).map((d) => d.path)).toEqual(['file', 'siem']);
  });

  it('refuses a path in use, a type the runtime does not offer, and an unknown path to disable', async () => {
    const { devices } = node();
    await devices.enable('siem', socket());
    await expect(devices.enable('siem', socket())).rejects.toThrow(AlreadyExistsError);
    await expect(devices.enable('bucket', EnableAuditDeviceSchema.parse({ type: 's3' }))).rejects.toThrow(
      'this runtime offers file, socket, syslog audit devices; s3 is not one of them',
    );
    await expect(devices.disable('nothing')).rejects.toThrow(NotFoundError);
  });

  it('refuses a device the runtime cannot open, with the reason', async () => {
    const { opener, devices } = node();
    opener.unopenable.add('siem');
    await expect(devices.enable('siem', socket())).rejects.toThrow('audit device siem cannot be opened: OpenFailed');
    expect((await devices.list()).map((d) => d.path)).toEqual(['file']);
  });

  it('keeps a stored device that cannot be opened enabled and failing, never silently off', async () => {
    const first = node();
    await first.devices.enable('siem', socket());
    await first.devices.disable('file');
    const second = node({ store: first.store, keyProvider: first.keyProvider });
    second.opener.unopenable.add('siem');
    await expect(second.audit.request(entry)).rejects.toBeInstanceOf(AuditUnavailableError);
    expect((await second.devices.list())[0]?.health).toMatchObject({ failures: 1, lastError: 'OpenFailed' });
  });

  it('lists options without a CA bundle, and filters as given', async () => {
    const { devices } = node();
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    await devices.enable(
      'syslog',
      EnableAuditDeviceSchema.parse({
        type: 'syslog',
        options: { address: 'logs.test:6514', transport: 'tls', ca_pem: pem },
        filters: { exclude_paths: ['sys/*'] },
      }),
    );
    const [, listed] = await devices.list();
    expect(listed).toMatchObject({
      path: 'syslog',
      options: { address: 'logs.test:6514', transport: 'tls', facility: 'auth', app_name: 'coffer', ca_pem: '(set)' },
      filters: { exclude_paths: ['sys/*'], exclude_operations: [] },
    });
    expect(JSON.stringify(listed)).not.toContain('MIIB');
  });

  it('lets another node see an enable once its view is refreshMs old, and not before', async () => {
    let now = 1_000;
    const clock = { now: () => now };
    const one = node({ clock });
    const two = node({ store: one.store, keyProvider: one.keyProvider, refreshMs: 10_000, clock });
    await two.audit.request(entry);
    await one.devices.enable('siem', socket());
    now += 9_999;
    await two.audit.request(entry);
    expect(two.opener.sinks.get('siem')).toBeUndefined();
    now += 1;
    await two.audit.request(entry);
    expect(two.opener.sinks.get('siem')?.records()).toHaveLength(1);
  });

  it('loads afresh after a load in flight that read the set before a change (as enable and disable do)', async () => {
    const memory = new MemoryStore();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let gated = true;
    const store: Store = {
      get: async (pk, sk) => {
        const item = await memory.get(pk, sk);
        if (gated) {
          gated = false;
          await gate;
        }
        return item as never;
      },
      query: (pk, options) => memory.query(pk, options),
      transact: (ops) => memory.transact(ops),
      close: () => memory.close(),
    };
    const keyProvider = new FakeKeyProvider();
    const { audit, devices } = node({ store, keyProvider });
    const stale = devices.load();
    await new Promise((resolve) => setImmediate(resolve));
    expect(gated).toBe(false); // the load in flight has read the empty set
    await node({ store: memory, keyProvider }).devices.enable('siem', socket());
    const coalesced = devices.load();
    const fresh = devices.load({ fresh: true });
    expect(coalesced).toBe(stale);
    release();
    await stale;
    expect(audit.devices.active.map((d) => d.path)).toEqual(['file']);
    await fresh;
    expect(audit.devices.active.map((d) => d.path)).toEqual(['file', 'siem']);
  });

  it('re-wraps the HMAC keys under a rotated root key, and the devices still hash alike', async () => {
    const { keyProvider, store, devices } = node();
    await devices.enable('siem', socket());
    const before = await devices.hmac('siem', 'value');
    keyProvider.rotate();
    expect(await devices.rewrapAll()).toEqual({ rewrapped: 1 });
    expect(await devices.rewrapAll()).toEqual({ rewrapped: 0 });
    const again = node({ store, keyProvider });
    expect(await again.devices.hmac('siem', 'value')).toBe(before);
  });
});
