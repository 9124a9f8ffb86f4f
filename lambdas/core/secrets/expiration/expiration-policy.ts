/**
 * Expiration policies of static secrets: when a secret stops being readable (a time, a number of reads, the rotation
 * of another secret, the end of a lease), the grace period after it, and when its owners hear about it beforehand.
 *
 * Everything here is pure: the state of a policy at a time (`expirationState`) is what the read path enforces, what
 * the sweep publishes events from, and what the compliance report counts.
 */

export const DAY_MS = 86_400_000;

/** When `SecretExpiring` is published, before the expiry: 30, 7 and 1 days, as certificate monitors do. */
export const DEFAULT_NOTIFY_BEFORE_MS: readonly number[] = [30 * DAY_MS, 7 * DAY_MS, DAY_MS];

/** Limits of a policy, shared by the service's checks and the wire's schema. */
export const EXPIRATION_LIMITS = {
  /** Lead times one policy may name. */
  maxNotifyLeads: 10,
  /** A read budget beyond this is no budget: a typo, or a wish for no limit. */
  maxReads: 1_000_000_000,
  /** The longest grace period: a year. */
  maxGraceMs: 365 * DAY_MS,
} as const;

/** Why a secret expired. */
export type ExpiryReason = 'time' | 'reads' | 'rotation' | 'lease';

/**
 * A secret's expiration policy, as its record keeps it (`SecretRecord.expiration`). Times are epoch milliseconds.
 * Conditions combine: the secret expires at the first one met.
 */
export type ExpirationPolicy = {
  /** The absolute expiry (`--expires-at`, or `--ttl` computed when the policy was written). */
  expiresAt?: number;
  /** After expiry, reads still succeed for this long, each with a warning and an event. 0: none. */
  graceMs: number;
  /** The secret's value may be read this many times; the next read is refused (no grace). */
  maxReads?: number;
  /** Expires once this secret (same region) rotates: its AWSCURRENT leaves the version it was on here. */
  whenRotated?: { name: string; versionId?: string };
  /** Expires once this lease is revoked or expires. */
  whenLeaseRevoked?: string;
  /** Lead times of the `SecretExpiring` events before `expiresAt`, longest first. */
  notifyBeforeMs: number[];
  /** When the policy was written: a rewrite starts it afresh (read count, observed conditions). */
  setAt: number;
};

/** What is observed about a policy beyond the record: reads so far, and when a condition was seen met. */
export interface ExpirationFacts {
  readonly reads?: number | undefined;
  /** When a condition (`whenRotated`, `whenLeaseRevoked`) was first seen met. */
  readonly triggeredAt?: number | undefined;
  readonly trigger?: 'rotation' | 'lease' | undefined;
}

/**
 * - `active`: readable, no expiry within the longest lead time;
 * - `expiring`: readable, the expiry is within the longest lead time;
 * - `grace`: past the expiry, readable with a warning until the grace period ends;
 * - `expired`: refused.
 */
export type ExpirationState = 'active' | 'expiring' | 'grace' | 'expired';

export interface ExpirationStatus {
  readonly state: ExpirationState;
  /** The effective expiry: the earliest of the time and a condition met. Absent while neither applies. */
  readonly expiresAt?: number | undefined;
  /** When reads stop, once expired or expiring. */
  readonly graceEndsAt?: number | undefined;
  /** Reads left under `maxReads`. */
  readonly readsLeft?: number | undefined;
  /** Why it expired (or will), once known. */
  readonly reason?: ExpiryReason | undefined;
}

/** What a read answered within its policy carries back: the caller's warning, when one is due. */
export interface ExpiryNotice {
  readonly state: 'expiring' | 'grace';
  readonly expiresAt: number;
  readonly graceEndsAt: number;
  readonly readsLeft?: number | undefined;
}

/**
 * The state of a policy at `now`: the one rule the read path, the sweep and the compliance report share.
 *
 * @example
 * ```ts
 * expirationState({ expiresAt: t, graceMs: 3_600_000, notifyBeforeMs: [DAY_MS], setAt: 0 }, t + 60_000); // 'grace'
 * expirationState(undefined, Date.now()); // 'active'
 * ```
 */
export function expirationState(
  policy: ExpirationPolicy | undefined,
  now: number,
  facts: ExpirationFacts = {},
): ExpirationState {
  return expirationStatus(policy, now, facts).state;
}

/** {@link expirationState} with the times and reads behind it. */
export function expirationStatus(
  policy: ExpirationPolicy | undefined,
  now: number,
  facts: ExpirationFacts = {},
): ExpirationStatus {
  if (policy === undefined) return { state: 'active' };
  const readsLeft = policy.maxReads === undefined ? undefined : Math.max(0, policy.maxReads - (facts.reads ?? 0));
  const withReads = readsLeft === undefined ? {} : { readsLeft };
  // A read budget spent is final: the N+1th read is refused, with no grace.
  if (readsLeft === 0) return { state: 'expired', reason: 'reads', ...withReads };
  const candidates: { at: number; reason: ExpiryReason }[] = [];
  if (policy.expiresAt !== undefined) candidates.push({ at: policy.expiresAt, reason: 'time' });
  if (facts.triggeredAt !== undefined) candidates.push({ at: facts.triggeredAt, reason: facts.trigger ?? 'rotation' });
  if (candidates.length === 0) return { state: 'active', ...withReads };
  const first = candidates.reduce((a, b) => (b.at < a.at ? b : a));
  const graceEndsAt = first.at + policy.graceMs;
  const times = { expiresAt: first.at, graceEndsAt, reason: first.reason, ...withReads };
  if (now >= graceEndsAt) return { state: 'expired', ...times };
  if (now >= first.at) return { state: 'grace', ...times };
  const longestLead = Math.max(0, ...policy.notifyBeforeMs);
  return { state: now >= first.at - longestLead ? 'expiring' : 'active', ...times };
}

/** The events a time-based policy schedules: one `expiring` per lead time still ahead when it was set, and `expired`. */
export function scheduledExpiryEvents(policy: ExpirationPolicy | undefined): { due: number; event: string }[] {
  if (policy?.expiresAt === undefined) return [];
  const expiresAt = policy.expiresAt;
  // A lead time already past when the policy was written would announce something already untrue ("30 days left").
  const leads = policy.notifyBeforeMs.filter((lead) => expiresAt - lead > policy.setAt);
  return [
    ...leads.map((lead) => ({ due: expiresAt - lead, event: expiringEvent(lead) })),
    { due: expiresAt, event: expiredEvent('time') },
  ];
}

export const expiringEvent = (leadMs: number): string => `expiring:${leadMs}`;
export const expiredEvent = (reason: ExpiryReason): string => `expired:${reason}`;

/** The lead time of an `expiring:<ms>` event, or the reason of an `expired:<reason>` one. */
export function parseExpiryEvent(
  event: string,
): { kind: 'expiring'; leadMs: number } | { kind: 'expired'; reason: ExpiryReason } | undefined {
  const [kind, arg] = event.split(':');
  if (kind === 'expiring' && arg !== undefined && /^\d+$/.test(arg)) return { kind, leadMs: Number(arg) };
  if (kind === 'expired' && (arg === 'time' || arg === 'reads' || arg === 'rotation' || arg === 'lease')) {
    return { kind, reason: arg };
  }
  return undefined;
}

/** Whether the policy has a condition only an observation can tell (another secret's rotation, a lease's end). */
export function hasCondition(policy: ExpirationPolicy | undefined): boolean {
  return policy?.whenRotated !== undefined || policy?.whenLeaseRevoked !== undefined;
}
