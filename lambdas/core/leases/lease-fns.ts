import { randomBytes, randomInt } from 'node:crypto';
import { ValidationError } from '../errors.ts';

/**
 * Lease ids: `<engine>/creds/<role>/<24 hex>`, or `<engine>/sign/<role>/<24 hex>` for a key the engine signed (SSH
 * certificates). Role names are validated by their engines; this is the outer bound.
 */
const LEASE_ID = /^[a-z0-9]+\/(creds|sign)\/[A-Za-z0-9_.-]{1,128}\/[a-f0-9]{24}$/;
const LEASE_PREFIX = /^[a-z0-9]+(\/[A-Za-z0-9_.-]*)*$/;

export function newLeaseId(rolePath: string): string {
  return `${rolePath}/${randomBytes(12).toString('hex')}`;
}

export function assertLeaseId(leaseId: string): string {
  if (!LEASE_ID.test(leaseId)) {
    throw new ValidationError(
      `invalid lease id ${JSON.stringify(leaseId.slice(0, 200))}: expected <engine>/creds/<role>/<id> or <engine>/sign/<role>/<id>`,
    );
  }
  return leaseId;
}

/** A revoke-prefix or list prefix: path segments of lease-id characters, starting with an engine name. */
export function assertLeasePrefix(prefix: string): string {
  if (prefix.length === 0 || prefix.length > 512 || !LEASE_PREFIX.test(prefix)) {
    throw new ValidationError(
      `invalid lease prefix ${JSON.stringify(prefix.slice(0, 200))}: expected e.g. "database/creds/" or "database/creds/app/"`,
    );
  }
  return prefix;
}

/** Exponential backoff with ±20 % jitter, so a fleet of failed revocations does not retry in lockstep. */
export function backoffMs(attempts: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, attempts - 1)));
  const jitter = Math.floor(exp * 0.2);
  return Math.max(1, Math.min(maxMs, exp - jitter + randomInt(0, 2 * jitter + 1)));
}

/**
 * The message stored as a failed revocation's `lastError`: the error's own message, bounded, with any of the given
 * secret strings blanked. Providers already keep credentials out of their messages; this is the second line.
 */
export function failureMessage(err: unknown, secrets: readonly string[] = []): string {
  let message = err instanceof Error ? err.message : String(err);
  for (const secret of secrets) {
    if (secret.length > 0) message = message.split(secret).join('[redacted]');
  }
  return message.length > 300 ? `${message.slice(0, 300)}…` : message;
}

/** Runs `fn` over `items` with at most `limit` in flight; resolves to each item's outcome in order. */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { status: 'fulfilled', value: await fn(items[index]!) };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Lets queued I/O callbacks (other requests) run between batches of a long revocation. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
