import type { BucketLimit } from '../ports/rate-limit-counters.ts';

/**
 * A token bucket kept as one number, its theoretical arrival time (the generic cell rate algorithm): `tat` is when
 * the bucket would be full again. Each request pushes it one emission interval (`intervalMs / rate`) further; a
 * request is allowed while that keeps `tat` within `burst` intervals of now. One number per bucket is what lets the
 * DynamoDB adapter decide with a single conditional update, and both adapters share this arithmetic.
 */
export type BucketStep =
  | { readonly allowed: true; readonly tat: number }
  | { readonly allowed: false; readonly retryAfterMs: number; readonly tat: number | undefined };

/**
 * Slack for floating-point sums: a rate of 3 per second makes emissions of 333.33… ms, whose sum may land a hair past
 * the capacity and refuse the burst's last token. A nanosecond never lets a request through that should wait.
 */
export const EPSILON_MS = 1e-6;

/** Milliseconds between two tokens. */
export function emissionMs(limit: BucketLimit): number {
  return limit.intervalMs / limit.rate;
}

/**
 * One request against the bucket whose state is `tat` (`undefined`: never used, or forgotten).
 * @returns allowed with the new `tat`, or refused with when to retry and the `tat` to keep (moved forward when the
 *   limit blocks for `blockMs`; `undefined` when nothing changes).
 * @example takeToken(undefined, { rate: 1, intervalMs: 1000, burst: 2 }, 0) // { allowed: true, tat: 1000 }
 */
export function takeToken(tat: number | undefined, limit: BucketLimit, now: number): BucketStep {
  const emission = emissionMs(limit);
  const next = Math.max(tat ?? now, now) + emission;
  const capacity = limit.burst * emission;
  if (next - now <= capacity + EPSILON_MS) return { allowed: true, tat: next };
  const blockMs = limit.blockMs ?? 0;
  // A `tat` beyond a full bucket's reach means the bucket is blocked already: refusals during a block do not extend it.
  const alreadyBlocked = tat !== undefined && tat - now > capacity + EPSILON_MS;
  if (blockMs > 0 && !alreadyBlocked) {
    // The first token comes back `blockMs` from now, whatever the bucket held.
    return { allowed: false, retryAfterMs: blockMs, tat: now + blockMs + capacity - emission };
  }
  return { allowed: false, retryAfterMs: next - now - capacity, tat: undefined };
}
