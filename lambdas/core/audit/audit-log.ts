import { AuditUnavailableError, ValidationError } from '../errors.ts';
import type { AuditSink } from '../ports/audit-sink.ts';
import { type Clock, systemClock } from '../ports/clock.ts';
import type { Principal } from '../principal.ts';
import type { AuditHasher } from './audit-hmac.ts';
import type { AuditPrincipal, AuditRecord } from './audit-types.ts';
import { type ActiveAuditDevice, AuditDevices, NoAuditDeviceRecordedError } from './devices/audit-devices.ts';
import { SensitiveValue } from './sensitive-value.ts';

/**
 * Excludes records from the audit log. A record is excluded when it matches ALL fields given in ANY filter,
 * e.g. `{ operation: 'sys.health' }` or `{ operation: 'secret.list', pathPrefix: 'scratch/' }`.
 */
export interface AuditFilter {
  /** Exact operation name. @default any operation */
  readonly operation?: string;
  /** Plain string prefix of the policy path (`secrets/dev` also matches `secrets/devops`). @default any path */
  readonly pathPrefix?: string;
}

export interface AuditLogOptions {
  /** The runtime's built-in device (the node's audit file, the outbox to S3), keyed by the install's salt. */
  readonly sink: AuditSink;
  readonly hasher: AuditHasher;
  /** Where and what the built-in device is, as `coffer audit list` shows it. @default `{ path: 'file', type: 'file' }` */
  readonly builtin?: { readonly path: string; readonly type: string };
  /** @default none: every record is written */
  readonly filters?: readonly AuditFilter[];
  /** Source of record times. @default systemClock */
  readonly clock?: Clock;
}

/** What a caller gives for one record: the log sets `type` and `time`. */
export type AuditEntry = Omit<AuditRecord, 'type' | 'time'> & {
  /** Wait until the record is on stable storage (fsync): for requests that change state. @default false */
  readonly durable?: boolean;
};

/**
 * The fail-closed audit log the broker writes to: a request record before an operation runs and a response record
 * after it, each to every enabled audit device ({@link AuditDevices}). If no device takes a record, the call throws
 * {@link AuditUnavailableError} and the request must be refused, so nothing happens that no log shows.
 *
 * @example
 * ```ts
 * const audit = new AuditLog({ sink, hasher, filters: [{ operation: 'sys.health' }] });
 * await audit.request({ requestId, operation: 'secret.read', path: 'secrets/prod/db', sourceIp,
 *   request: audit.redact(input, ['value']) });
 * ```
 */
export class AuditLog {
  readonly #hasher: AuditHasher;
  /** Every enabled device; the built-in one until the device service loads the others. */
  readonly devices: AuditDevices;
  /** The runtime's own device, for the device service to keep in (or take out of) the set. */
  readonly builtin: ActiveAuditDevice;
  readonly #filters: readonly AuditFilter[];
  readonly #clock: Clock;
  /** Token accessors' HMACs: a token presented again and again is hashed once, not on every request. */
  readonly #accessorHmacs = new Map<string, string>();

  constructor(options: AuditLogOptions) {
    this.#hasher = options.hasher;
    this.#clock = options.clock ?? systemClock;
    const where = options.builtin ?? { path: 'file', type: 'file' };
    this.builtin = { ...where, sink: options.sink, hasher: options.hasher, builtin: true };
    this.devices = new AuditDevices({ clock: this.#clock });
    this.devices.replace([this.builtin]);
    this.#filters = (options.filters ?? []).map(checkFilter);
  }

  /** Whether records of `operation` on `path` are left out of the log: of every device (each has its own filters too). */
  excluded(operation: string, path: string): boolean {
    return this.#filters.some(
      (filter) =>
        (filter.operation === undefined || filter.operation === operation) &&
        (filter.pathPrefix === undefined || path.startsWith(filter.pathPrefix)),
    );
  }

  /** Records a request before it runs. @throws AuditUnavailableError when the sink fails */
  request(entry: AuditEntry): Promise<void> {
    return this.#write('request', entry);
  }

  /** Records the outcome of a request. @throws AuditUnavailableError when the sink fails */
  response(entry: AuditEntry): Promise<void> {
    return this.#write('response', entry);
  }

  /**
   * A principal as the log names it: a token's id is its accessor, a handle on the token, so it appears only as its
   * HMAC; IAM ARNs and access-key principals are kept as they are.
   */
  principal(principal: Principal): AuditPrincipal {
    return {
      type: principal.type,
      id: principal.type === 'token' ? this.#accessorHmac(principal.id) : principal.id,
      displayName: principal.displayName,
      policies: principal.policies,
    };
  }

  #accessorHmac(accessor: string): string {
    let hashed = this.#accessorHmacs.get(accessor);
    if (hashed === undefined) {
      // Bounded: a flood of distinct tokens starts the memo afresh instead of growing it.
      if (this.#accessorHmacs.size >= MAX_REMEMBERED_ACCESSORS) this.#accessorHmacs.clear();
      hashed = this.#hasher.hmac(accessor);
      this.#accessorHmacs.set(accessor, hashed);
    }
    return hashed;
  }

  /** The audit HMAC of `value` under the install's salt, as the built-in device writes it (`hmac-sha256:<hex>`). */
  hmac(value: string | Buffer): string {
    return this.#hasher.hmac(value);
  }

  /**
   * A copy of `obj` in which the values of `sensitiveKeys`, at any depth (nested objects and arrays included), are
   * replaced by {@link SensitiveValue}s, which each device hashes with its own key (and which serialise as their HMAC
   * under the install's salt). A sensitive value that is itself an object or array has every leaf replaced, so no
   * part of it reaches the log.
   */
  redact(obj: Readonly<Record<string, unknown>>, sensitiveKeys: readonly string[]): Record<string, unknown> {
    const hasher = this.#hasher;
    return redactSensitive(obj, new Set(sensitiveKeys), (value) => new SensitiveValue(value, hasher)) as Record<
      string,
      unknown
    >;
  }

  async #write(type: AuditRecord['type'], entry: AuditEntry): Promise<void> {
    const { durable = false, ...fields } = entry;
    const record: AuditRecord = { type, time: new Date(this.#clock.now()).toISOString(), ...fields };
    try {
      await this.devices.write(record, { durable });
    } catch (err) {
      // One device, one reason: the cause is the device's own error, as it was before there were several.
      const cause = err instanceof NoAuditDeviceRecordedError && err.reasons.length === 1 ? err.reasons[0] : err;
      throw new AuditUnavailableError('audit log unavailable: request refused', { cause });
    }
  }
}

const MAX_REMEMBERED_ACCESSORS = 10_000;

function checkFilter(filter: AuditFilter): AuditFilter {
  // A filter without fields would match everything and silently switch auditing off.
  if (!filter.operation && !filter.pathPrefix) {
    throw new ValidationError('an audit filter must name an operation or a path prefix');
  }
  return { ...filter };
}

type Hmac = (value: string | Buffer) => SensitiveValue;

/**
 * How deep redaction walks. The broker refuses request bodies nested deeper than 64 levels, so this only bites on
 * something no request can produce (a cyclic or absurdly deep response): there the subtree is replaced by
 * {@link TOO_DEEP}, which drops data rather than risk a stack overflow or a secret reaching the log.
 */
export const MAX_REDACT_DEPTH = 100;
/** What stands in the log for a subtree deeper than {@link MAX_REDACT_DEPTH}. */
export const TOO_DEEP = '[nested too deep]';

function redactSensitive(value: unknown, keys: ReadonlySet<string>, hmac: Hmac, depth = 0): unknown {
  if (depth >= MAX_REDACT_DEPTH && (Array.isArray(value) || isPlainObject(value))) return TOO_DEEP;
  if (Array.isArray(value)) return value.map((item) => redactSensitive(item, keys, hmac, depth + 1));
  if (!isPlainObject(value)) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    copy[key] = keys.has(key) ? hashAll(item, hmac, depth + 1) : redactSensitive(item, keys, hmac, depth + 1);
  }
  return copy;
}

/** Hashes every leaf of a sensitive value; numbers and booleans too, since a PIN is as secret as a password. */
function hashAll(value: unknown, hmac: Hmac, depth: number): unknown {
  if (typeof value === 'string' || Buffer.isBuffer(value)) return hmac(value);
  if (value instanceof Uint8Array) return hmac(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return hmac(String(value));
  if (depth >= MAX_REDACT_DEPTH && (Array.isArray(value) || isPlainObject(value))) return TOO_DEEP;
  if (Array.isArray(value)) return value.map((item) => hashAll(item, hmac, depth + 1));
  if (isPlainObject(value)) {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) copy[key] = hashAll(item, hmac, depth + 1);
    return copy;
  }
  // null and undefined carry nothing; anything else (a Date, a class instance) is not ours to guess about.
  return value === null || value === undefined ? value : hmac(String(value));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
