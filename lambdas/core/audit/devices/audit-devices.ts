import {
  matchesPath,
  parsePattern,
  RequestPath,
  type ResolvedPattern,
  resolveStatic,
} from '../../policy/path-pattern.ts';
import type { AuditSink } from '../../ports/audit-sink.ts';
import { type Clock, systemClock } from '../../ports/clock.ts';
import type { AuditHasher } from '../audit-hmac.ts';
import type { AuditRecord } from '../audit-types.ts';
import { resolveSensitive } from '../sensitive-value.ts';
import type { AuditDeviceFilters } from './audit-device-config.ts';

/** One enabled device, open and ready to take records. */
export interface ActiveAuditDevice {
  readonly path: string;
  readonly type: string;
  readonly sink: AuditSink;
  /** Keys this device's HMACs. */
  readonly hasher: AuditHasher;
  /** @default nothing excluded or dropped */
  readonly filters?: AuditDeviceFilters;
  /** The runtime's own device (the node's audit file, the outbox to S3): enabled unless disabled. */
  readonly builtin?: boolean;
}

/** What the node has seen of one device since it started: never a record, a value or an error's message. */
export interface AuditDeviceHealth {
  readonly path: string;
  readonly type: string;
  readonly builtin: boolean;
  /** Records it took. */
  readonly recorded: number;
  /**
   * Records it did not take (it failed, or was skipped while backing off after a failure), and how many attempts in a
   * row failed up to now (0: healthy).
   */
  readonly failures: number;
  readonly consecutiveFailures: number;
  /** Epoch milliseconds. */
  readonly lastSuccessAt?: number;
  readonly lastFailureAt?: number;
  /** The class of the last error (`AuditFileError`, `ECONNREFUSED`, …): a name, never a message that could hold data. */
  readonly lastError?: string;
}

/** No enabled device took the record: the request must fail. Names the devices, never the record. */
export class NoAuditDeviceRecordedError extends Error {
  constructor(
    readonly failed: readonly string[],
    /** Why each failed, in the order of `failed`. */
    readonly reasons: readonly unknown[] = [],
  ) {
    super(
      failed.length === 0
        ? 'no audit device is enabled'
        : `no audit device recorded the record (failed: ${failed.join(', ')})`,
    );
    this.name = 'NoAuditDeviceRecordedError';
  }
}

interface Device {
  readonly device: ActiveAuditDevice;
  readonly excludedOperations: ReadonlySet<string>;
  readonly excludedPaths: readonly ResolvedPattern[];
  readonly dropRequest: ReadonlySet<string>;
  readonly dropResponse: ReadonlySet<string>;
  health: Omit<AuditDeviceHealth, 'path' | 'type' | 'builtin'>;
  /** After a failure, when the device is tried again (epoch ms); 0 when healthy. */
  retryAt: number;
}

/** The first backoff after a failure; it doubles with each failure in a row, up to {@link RETRY_MAX_MS}. */
const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 30_000;

/**
 * The enabled audit devices and Vault's rule over them: a record is written to every device whose filters keep it,
 * each in its own form (its own HMAC key, its dropped keys), and the write succeeds if at least ONE of them took it.
 * A device that fails is counted and named in {@link health}, and does not fail the request while another recorded
 * it. If every device that should have taken it failed, the write rejects and the request fails closed. A record that
 * every device's filters exclude is written nowhere: the operator asked for exactly that.
 *
 * @example
 * ```ts
 * const devices = new AuditDevices();
 * devices.replace([{ path: 'file', type: 'file', sink, hasher, builtin: true }]);
 * await devices.write(record, { durable: true });
 * ```
 */
export class AuditDevices {
  #devices: readonly Device[] = [];
  readonly #clock: Clock;
  /** Called before a write; the device service reloads the set from the store there when others may change it. */
  #beforeWrite: (() => Promise<void>) | undefined;

  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  /** Makes `devices` the enabled set; a device kept by path keeps its health counters. */
  replace(devices: readonly ActiveAuditDevice[]): void {
    const before = new Map(this.#devices.map((d) => [d.device.path, d]));
    this.#devices = devices.map((device) => {
      const filters = device.filters;
      const kept = before.get(device.path);
      return {
        device,
        excludedOperations: new Set(filters?.exclude_operations ?? []),
        excludedPaths: (filters?.exclude_paths ?? []).map((glob) => resolveStatic(parsePattern(glob))),
        dropRequest: new Set(filters?.drop_request_keys ?? []),
        dropResponse: new Set(filters?.drop_response_keys ?? []),
        health:
          kept !== undefined && kept.device.type === device.type
            ? kept.health
            : { recorded: 0, failures: 0, consecutiveFailures: 0 },
        retryAt: kept !== undefined && kept.device.type === device.type ? kept.retryAt : 0,
      };
    });
  }

  /** The devices enabled now. */
  get active(): readonly ActiveAuditDevice[] {
    return this.#devices.map((d) => d.device);
  }

  /** @internal the device service's reload hook */
  onBeforeWrite(hook: () => Promise<void>): void {
    this.#beforeWrite = hook;
  }

  /** The hasher of the device at `path`. */
  hasherOf(path: string): AuditHasher | undefined {
    return this.#devices.find((d) => d.device.path === path)?.device.hasher;
  }

  health(): AuditDeviceHealth[] {
    return this.#devices.map(({ device, health }) => ({
      path: device.path,
      type: device.type,
      builtin: device.builtin === true,
      ...health,
    }));
  }

  /**
   * Writes `record` (whose sensitive values are still {@link SensitiveValue}s) to every device that keeps it.
   * @throws NoAuditDeviceRecordedError when devices should have taken it and none did, or none is enabled
   */
  async write(record: AuditRecord, options: { durable: boolean }): Promise<void> {
    if (this.#beforeWrite !== undefined) await this.#beforeWrite();
    const devices = this.#devices;
    if (devices.length === 0) throw new NoAuditDeviceRecordedError([]);
    const path = new RequestPath(record.path);
    const keeping = devices.filter((d) => !excludes(d, record, path));
    if (keeping.length === 0) return;
    const started = this.#clock.now();
    // A device that just failed is left alone until its backoff ends, so a hung collector does not hold every request
    // for its timeout while another device records. It is tried at once if no other device took the record: a
    // record is never refused with a device untried.
    const ready = keeping.filter((d) => d.retryAt <= started);
    const waiting = keeping.filter((d) => d.retryAt > started);
    const failures = await this.#attempt(ready, record, options);
    if (failures.length < ready.length) {
      for (const d of waiting) d.health = { ...d.health, failures: d.health.failures + 1 };
      return;
    }
    failures.push(...(await this.#attempt(waiting, record, options)));
    if (failures.length === keeping.length) {
      throw new NoAuditDeviceRecordedError(
        failures.map((f) => f.path),
        failures.map((f) => f.reason),
      );
    }
  }

  /** Appends to each of `devices` and updates their health; answers the failures. */
  async #attempt(
    devices: readonly Device[],
    record: AuditRecord,
    options: { durable: boolean },
  ): Promise<{ path: string; reason: unknown }[]> {
    const outcomes = await Promise.allSettled(devices.map((d) => d.device.sink.append(formatFor(d, record), options)));
    const now = this.#clock.now();
    const failures: { path: string; reason: unknown }[] = [];
    outcomes.forEach((outcome, i) => {
      const d = devices[i]!;
      if (outcome.status === 'fulfilled') {
        d.retryAt = 0;
        d.health = { ...d.health, recorded: d.health.recorded + 1, consecutiveFailures: 0, lastSuccessAt: now };
        return;
      }
      failures.push({ path: d.device.path, reason: outcome.reason });
      const consecutiveFailures = d.health.consecutiveFailures + 1;
      d.retryAt = now + Math.min(RETRY_BASE_MS * 2 ** (consecutiveFailures - 1), RETRY_MAX_MS);
      d.health = {
        ...d.health,
        failures: d.health.failures + 1,
        consecutiveFailures,
        lastFailureAt: now,
        lastError: errorClass(outcome.reason),
      };
    });
    return failures;
  }

  /** Closes every device's sink; the first failure is thrown after all were tried. */
  async close(): Promise<void> {
    const outcomes = await Promise.allSettled(this.#devices.map((d) => d.device.sink.close()));
    const failure = outcomes.find((o) => o.status === 'rejected');
    if (failure !== undefined) throw (failure as PromiseRejectedResult).reason;
  }
}

function excludes(d: Device, record: AuditRecord, path: RequestPath): boolean {
  // `system` records are the log's notes about itself: a device never filters them.
  if (record.type === 'system') return false;
  if (d.excludedOperations.has(record.operation)) return true;
  return d.excludedPaths.some((pattern) => matchesPath(pattern, path));
}

/** The record as this device writes it: its dropped keys gone, its HMAC key on every sensitive value. */
function formatFor(d: Device, record: AuditRecord): AuditRecord {
  const hasher = d.device.hasher;
  // Member order kept: the file device hashes the record as serialised.
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    const drop = key === 'request' ? d.dropRequest : key === 'response' ? d.dropResponse : undefined;
    copy[key] = resolveSensitive(value, hasher, drop);
  }
  return copy as unknown as AuditRecord;
}

/** An error's class, never its message: a socket error's message can carry an address, a sink's a record. */
function errorClass(reason: unknown): string {
  if (reason instanceof Error) {
    const code = (reason as NodeJS.ErrnoException).code;
    return typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? code : reason.name.slice(0, 60);
  }
  return 'unknown';
}
