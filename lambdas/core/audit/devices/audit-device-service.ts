import {
  AlreadyExistsError,
  ConflictError,
  InvalidRequestError,
  NotFoundError,
  ValidationError,
} from '../../errors.ts';
import type { AuditDeviceOpener, AuditSink } from '../../ports/audit-sink.ts';
import type { Clock } from '../../ports/clock.ts';
import type { KeyProvider } from '../../ports/key-provider.ts';
import { ConditionFailedError, type Store } from '../../ports/store.ts';
import { AuditHasher } from '../audit-hmac.ts';
import type { AuditLog } from '../audit-log.ts';
import type { AuditDeviceConfig, AuditDeviceType, EnableAuditDevice } from './audit-device-config.ts';
import type { ActiveAuditDevice, AuditDeviceHealth } from './audit-devices.ts';

/** The partition holding the enabled devices: one item, so enabling and disabling are one conditional write each. */
export const AUDIT_DEVICE_PARTITION = 'audit-devices';
const ROSTER = 'devices';
/** More devices than anyone runs, few enough that every record's fan-out stays cheap. */
export const MAX_AUDIT_DEVICES = 16;

/** A device as stored: its settings, and its HMAC key as a data key wrapped under the envelope key. */
interface StoredDevice {
  readonly config: AuditDeviceConfig;
  readonly wrappedKey: string;
  readonly createdAt: number;
}

interface Roster {
  readonly devices: readonly StoredDevice[];
  /** The runtime's built-in device was disabled (`coffer audit disable file`). @default false */
  readonly builtinDisabled?: boolean;
}

/** A device as `coffer audit list` shows it: settings (no key), and this node's view of its health. */
export interface AuditDeviceView {
  readonly path: string;
  readonly type: string;
  readonly builtin: boolean;
  readonly description: string;
  readonly format: 'json';
  readonly options: Record<string, unknown>;
  readonly filters: AuditDeviceConfig['filters'] | undefined;
  readonly createdAt?: number;
  readonly health?: Omit<AuditDeviceHealth, 'path' | 'type' | 'builtin'>;
}

export interface AuditDeviceServiceOptions {
  readonly store: Store;
  readonly keyProvider: KeyProvider;
  readonly clock: Clock;
  readonly audit: AuditLog;
  /** @default only the built-in device: `enable` refuses every other type */
  readonly opener?: AuditDeviceOpener;
  /**
   * Where other nodes may enable and disable devices (Lambda instances), how old this node's set may be before a
   * record reloads it first. @default never reloaded: this node is the only writer
   */
  readonly refreshMs?: number;
}

const keyContext = (path: string, createdAt: number) => ({
  purpose: 'audit-device-hmac',
  device: path,
  created: String(createdAt),
});

/**
 * The audit devices of a deployment (`sys/audit-devices/<path>`), kept in the store so every node writes to the
 * same set: enable, disable, list, and the set {@link AuditLog} writes through. Each device gets its own HMAC key,
 * a fresh data key from the envelope key, stored wrapped. The runtime's built-in device (the node's audit file, or
 * the outbox to S3) is always there unless disabled. The last enabled device cannot be disabled: Coffer never runs
 * unaudited.
 */
export class AuditDeviceService {
  readonly #store: Store;
  readonly #keyProvider: KeyProvider;
  readonly #clock: Clock;
  readonly #audit: AuditLog;
  readonly #opener: AuditDeviceOpener | undefined;
  readonly #refreshMs: number | undefined;
  /** Open devices by path, with the creation time that tells a re-enabled device from the one before it. */
  readonly #open = new Map<string, { createdAt: number; device: ActiveAuditDevice }>();
  #loadedAt: number | undefined;
  #loading: Promise<void> | undefined;

  constructor(options: AuditDeviceServiceOptions) {
    this.#store = options.store;
    this.#keyProvider = options.keyProvider;
    this.#clock = options.clock;
    this.#audit = options.audit;
    this.#opener = options.opener;
    this.#refreshMs = options.refreshMs;
    this.#audit.devices.onBeforeWrite(() => this.#refreshIfStale());
  }

  /**
   * Opens the stored devices and makes them, with the built-in one unless disabled, the set the log writes to. Loads
   * asked for together share one read; `fresh` reads again after any load in flight (which may predate a write).
   */
  load(options: { fresh?: boolean } = {}): Promise<void> {
    if (this.#loading !== undefined && options.fresh !== true) return this.#loading;
    const previous = this.#loading ?? Promise.resolve();
    const loading: Promise<void> = previous
      .catch(() => {})
      .then(() => this.#load())
      .finally(() => {
        if (this.#loading === loading) this.#loading = undefined;
      });
    this.#loading = loading;
    return loading;
  }

  /** Loads the set before the first record, and again once it is `refreshMs` old. */
  async #refreshIfStale(): Promise<void> {
    const loadedAt = this.#loadedAt;
    if (loadedAt !== undefined && (this.#refreshMs === undefined || this.#clock.now() - loadedAt < this.#refreshMs)) {
      return;
    }
    // A store that cannot be read keeps the set this node has: the devices still record, or fail closed.
    await this.load().catch(() => {});
  }

  async #load(): Promise<void> {
    const { roster } = await this.#read();
    const active: ActiveAuditDevice[] = roster.builtinDisabled === true ? [] : [this.#audit.builtin];
    const keep = new Set<string>();
    // Closed only once the new set is in place: a record written meanwhile still finds every device it had open.
    const retired: AuditSink[] = [];
    for (const stored of roster.devices) {
      keep.add(stored.config.path);
      const open = this.#open.get(stored.config.path);
      if (open !== undefined && open.createdAt === stored.createdAt) {
        active.push(open.device);
        continue;
      }
      if (open !== undefined) retired.push(open.device.sink);
      const device = await this.#openDevice(stored);
      this.#open.set(stored.config.path, { createdAt: stored.createdAt, device });
      active.push(device);
    }
    for (const [path, open] of this.#open) {
      if (keep.has(path)) continue;
      this.#open.delete(path);
      retired.push(open.device.sink);
    }
    this.#audit.devices.replace(active);
    this.#loadedAt = this.#clock.now();
    await Promise.allSettled(retired.map((sink) => sink.close()));
  }

  /** A device that cannot be opened stays enabled and fails every record: it shows in health, never silently off. */
  async #openDevice(stored: StoredDevice): Promise<ActiveAuditDevice> {
    const { config } = stored;
    const key = await this.#keyProvider.unwrapDataKey(stored.wrappedKey, keyContext(config.path, stored.createdAt));
    let hasher: AuditHasher;
    try {
      hasher = new AuditHasher(key);
    } finally {
      key.fill(0);
    }
    let sink: AuditSink;
    try {
      if (this.#opener === undefined || !this.#opener.types.includes(config.type)) {
        throw Object.assign(new Error(`${config.type} audit devices are not offered by this runtime`), {
          name: 'UnsupportedAuditDevice',
        });
      }
      sink = await this.#opener.open(config);
    } catch (err) {
      sink = failingSink(err);
    }
    return { path: config.path, type: config.type, sink, hasher, filters: config.filters };
  }

  async #read(): Promise<{ roster: Roster; rev: number | undefined }> {
    const item = await this.#store.get<Roster & Record<string, unknown>>(AUDIT_DEVICE_PARTITION, ROSTER);
    return item === undefined ? { roster: { devices: [] }, rev: undefined } : { roster: item.data, rev: item.rev };
  }

  async #write(roster: Roster, rev: number | undefined): Promise<void> {
    try {
      await this.#store.transact([
        {
          type: 'put',
          pk: AUDIT_DEVICE_PARTITION,
          sk: ROSTER,
          data: { ...roster },
          condition: rev === undefined ? { kind: 'absent' } : { kind: 'rev', rev },
        },
      ]);
    } catch (err) {
      if (err instanceof ConditionFailedError) {
        throw new ConflictError('the audit devices changed while this request ran; try again');
      }
      throw err;
    }
  }

  /** The types `enable` takes on this runtime: the built-in device's and the opener's. */
  get types(): readonly string[] {
    return [...new Set([this.#audit.builtin.type, ...(this.#opener?.types ?? [])])];
  }

  /**
   * Enables a device at `path`. The built-in device's path re-enables it (with its type and no options); any other
   * path gets a new device with a new HMAC key.
   * @throws AlreadyExistsError when a device is enabled at `path`
   * @throws ValidationError when this runtime does not offer the type, or the device cannot be opened
   */
  async enable(path: string, input: EnableAuditDevice): Promise<AuditDeviceView> {
    const { roster, rev } = await this.#read();
    const builtin = this.#audit.builtin;
    if (path === builtin.path) {
      if (input.type !== builtin.type) {
        throw new ValidationError(`${path} is the path of the built-in ${builtin.type} device; choose another --path`);
      }
      if (roster.builtinDisabled !== true) throw new AlreadyExistsError(`an audit device is enabled at ${path}`);
      if (Object.keys(input.options).length > 0 || hasFilters(input.filters)) {
        throw new ValidationError(
          `the built-in ${builtin.type} device takes no options or filters here (its filters are the server's configuration)`,
        );
      }
      await this.#write({ ...roster, builtinDisabled: false }, rev);
      await this.load({ fresh: true });
      return this.#view(undefined);
    }
    if (roster.devices.some((d) => d.config.path === path)) {
      throw new AlreadyExistsError(`an audit device is enabled at ${path}`);
    }
    if (this.#opener === undefined || !this.#opener.types.includes(input.type)) {
      throw new ValidationError(
        `this runtime offers ${this.types.join(', ')} audit devices; ${input.type} ${
          input.type === builtin.type ? `is its built-in device, at path ${builtin.path}` : 'is not one of them'
        }`,
      );
    }
    if (roster.devices.length >= MAX_AUDIT_DEVICES) {
      throw new ValidationError(`at most ${MAX_AUDIT_DEVICES} audit devices may be enabled`);
    }
    const config: AuditDeviceConfig = { ...input, path };
    // Opened once before it is stored: a device the runtime cannot build (a file that cannot be created) is refused
    // here, with the reason, rather than enabled and failing.
    let probe: AuditSink;
    try {
      probe = await this.#opener.open(config);
    } catch (err) {
      throw new ValidationError(`audit device ${path} cannot be opened: ${errorName(err)}`);
    }
    await probe.close().catch(() => {});
    const createdAt = this.#clock.now();
    const { plaintext, wrapped } = await this.#keyProvider.generateDataKey(keyContext(path, createdAt));
    plaintext.fill(0);
    await this.#write({ ...roster, devices: [...roster.devices, { config, wrappedKey: wrapped, createdAt }] }, rev);
    await this.load({ fresh: true });
    return this.#view({ config, wrappedKey: wrapped, createdAt });
  }

  /**
   * Disables the device at `path`; its records stay where they were written.
   * @throws NotFoundError when no device is enabled there
   * @throws InvalidRequestError when it is the last enabled device
   */
  async disable(path: string): Promise<void> {
    const { roster, rev } = await this.#read();
    const builtinEnabled = roster.builtinDisabled !== true;
    const isBuiltin = path === this.#audit.builtin.path && builtinEnabled;
    if (!isBuiltin && !roster.devices.some((d) => d.config.path === path)) {
      throw new NotFoundError(`no audit device is enabled at ${path}`);
    }
    const enabled = roster.devices.length + (builtinEnabled ? 1 : 0);
    if (enabled <= 1) {
      throw new InvalidRequestError(
        `${path} is the last enabled audit device; enable another before disabling it (Coffer never runs unaudited)`,
      );
    }
    // Disabling the one device that still records would leave only failing ones: every request after it, this one's
    // own response record included, would be refused. Refused here instead, with the reason.
    const others = this.#audit.devices.health().filter((h) => h.path !== path);
    if (others.length > 0 && others.every((h) => h.consecutiveFailures > 0)) {
      const failing = others.map((h) => `${h.path}: ${h.lastError ?? 'failing'}`).join(', ');
      throw new InvalidRequestError(
        `every other enabled audit device is failing (${failing}); disabling ${path} would stop all requests`,
      );
    }
    await this.#write(
      isBuiltin
        ? { ...roster, builtinDisabled: true }
        : { ...roster, devices: roster.devices.filter((d) => d.config.path !== path) },
      rev,
    );
    await this.load({ fresh: true });
  }

  /** Every enabled device, the built-in one first, each with this node's view of its health. */
  async list(): Promise<AuditDeviceView[]> {
    const { roster } = await this.#read();
    return [
      ...(roster.builtinDisabled === true ? [] : [this.#view(undefined)]),
      ...roster.devices.map((stored) => this.#view(stored)),
    ];
  }

  /**
   * The HMAC of `value` as the device at `path` writes it (`coffer audit hash --path`).
   * @throws NotFoundError when no device is enabled there
   */
  async hmac(path: string, value: string): Promise<string> {
    await this.#refreshIfStale();
    const hasher = this.#audit.devices.hasherOf(path);
    if (hasher === undefined) throw new NotFoundError(`no audit device is enabled at ${path}`);
    return hasher.hmac(value);
  }

  /** Re-wraps the devices' HMAC keys under the current root key (root-key rotation). */
  async rewrapAll(): Promise<{ rewrapped: number }> {
    const { roster, rev } = await this.#read();
    let rewrapped = 0;
    const devices: StoredDevice[] = [];
    for (const stored of roster.devices) {
      if (this.#keyProvider.isCurrent(stored.wrappedKey)) {
        devices.push(stored);
        continue;
      }
      const context = keyContext(stored.config.path, stored.createdAt);
      devices.push({ ...stored, wrappedKey: await this.#keyProvider.rewrapDataKey(stored.wrappedKey, context) });
      rewrapped++;
    }
    if (rewrapped > 0) await this.#write({ ...roster, devices }, rev);
    return { rewrapped };
  }

  /** Closes the devices this service opened (not the built-in one: its runtime owns it). */
  async close(): Promise<void> {
    const open = [...this.#open.values()];
    this.#open.clear();
    await Promise.allSettled(open.map(({ device }) => device.sink.close()));
  }

  #view(stored: StoredDevice | undefined): AuditDeviceView {
    const health = new Map(this.#audit.devices.health().map((h) => [h.path, h]));
    if (stored === undefined) {
      const builtin = this.#audit.builtin;
      return {
        path: builtin.path,
        type: builtin.type,
        builtin: true,
        description: `the ${builtin.type === 's3' ? 'outbox to S3' : "node's audit file"} (built in)`,
        format: 'json',
        options: {},
        filters: undefined,
        ...healthOf(health.get(builtin.path)),
      };
    }
    const { config } = stored;
    const { ca_pem: caPem, ...options } = config.options as Record<string, unknown>;
    return {
      path: config.path,
      type: config.type,
      builtin: false,
      description: config.description,
      format: config.format,
      options: { ...options, ...(caPem !== undefined && { ca_pem: '(set)' }) },
      filters: config.filters,
      createdAt: stored.createdAt,
      ...healthOf(health.get(config.path)),
    };
  }
}

function healthOf(health: AuditDeviceHealth | undefined): { health?: AuditDeviceView['health'] } {
  if (health === undefined) return {};
  const { path: _path, type: _type, builtin: _builtin, ...rest } = health;
  return { health: rest };
}

function hasFilters(filters: EnableAuditDevice['filters']): boolean {
  return Object.values(filters).some((list) => list.length > 0);
}

function errorName(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? code : err.name;
  }
  return 'unknown error';
}

/** A device that could not be opened: every record fails on it, so health shows it. */
function failingSink(reason: unknown): AuditSink {
  return {
    append: () => Promise.reject(reason),
    close: async () => {},
  };
}

export type { AuditDeviceType };
