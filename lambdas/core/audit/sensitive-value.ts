import type { AuditHasher } from './audit-hmac.ts';

/**
 * A sensitive value on its way to the audit devices. Each device has its own HMAC key, so the value cannot be hashed
 * once when the record is built: it is carried until each device resolves it with its own hasher
 * ({@link resolveSensitive}). The raw value is in a private field, so nothing that serialises the record can reach
 * it: `JSON.stringify` writes the HMAC under the key the value was created with (the install's audit salt), never
 * the value.
 */
export class SensitiveValue {
  readonly #value: string | Buffer;
  readonly #fallback: AuditHasher;

  constructor(value: string | Buffer, fallback: AuditHasher) {
    this.#value = value;
    this.#fallback = fallback;
  }

  /** The value's HMAC under `hasher`, as a device writes it. */
  hashWith(hasher: AuditHasher): string {
    return hasher.hmac(this.#value);
  }

  toJSON(): string {
    return this.#fallback.hmac(this.#value);
  }

  /** Never the value, even by accident (`${record.request.password}` in a log line). */
  toString(): string {
    return this.toJSON();
  }
}

/**
 * A copy of `value` in which every {@link SensitiveValue} is replaced by its HMAC under `hasher`, and every key named
 * in `drop` is left out (a device's filter), at any depth. Plain objects and arrays are copied; anything else is kept.
 */
export function resolveSensitive(value: unknown, hasher: AuditHasher, drop?: ReadonlySet<string>): unknown {
  if (value instanceof SensitiveValue) return value.hashWith(hasher);
  if (Array.isArray(value)) return value.map((item) => resolveSensitive(item, hasher, drop));
  if (typeof value !== 'object' || value === null) return value;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (drop?.has(key)) continue;
    copy[key] = resolveSensitive(item, hasher, drop);
  }
  return copy;
}
