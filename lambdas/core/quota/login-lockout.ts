import * as z from 'zod';
import { parseDuration } from '../duration.ts';
import type { FailureRule, RateLimitCounters } from '../ports/rate-limit-counters.ts';
import { RateLimitedError, retryAfterSeconds } from './quota-errors.ts';

/**
 * A mount's `user_lockout_config` (Vault's names and defaults): after `lockout_threshold` failed logins for the same
 * user or role from the same address, each within `lockout_counter_reset` of the previous one, that key is locked out
 * for `lockout_duration`, even with the right credential.
 */
export const UserLockoutConfigSchema = z.strictObject({
  /** @default 5 */
  lockout_threshold: z.number().int().min(1).max(10_000).optional(),
  /** @default 15m */
  lockout_duration: z.union([z.string(), z.number()]).optional(),
  /** @default 15m */
  lockout_counter_reset: z.union([z.string(), z.number()]).optional(),
  /** @default false */
  lockout_disable: z.boolean().optional(),
});
export type UserLockoutConfig = z.infer<typeof UserLockoutConfigSchema>;

export const LOCKOUT_DEFAULTS = { threshold: 5, durationSeconds: 900, counterResetSeconds: 900 } as const;

/**
 * The methods whose credential is a secret someone could guess (as Vault: userpass, LDAP, AppRole). A JWT, a
 * service-account token or a client certificate is signed: guessing gets nowhere, and locking its role out per address
 * would let anyone behind the same NAT as a CI runner lock the runner out with junk tokens.
 */
export const LOCKOUT_METHODS: readonly string[] = ['approle', 'ldap', 'userpass'];

/** Whether logins of a mount of `type` are locked out after failures. */
export function locksOut(type: string): boolean {
  return LOCKOUT_METHODS.includes(type);
}

/** The rule of a mount's config, or `undefined` when lockout is disabled. @throws ValidationError for a bad duration */
export function lockoutRule(config: UserLockoutConfig | undefined): FailureRule | undefined {
  if (config?.lockout_disable === true) return undefined;
  const seconds = (value: string | number | undefined, fallback: number) =>
    value === undefined ? fallback : parseDuration(value);
  return {
    threshold: config?.lockout_threshold ?? LOCKOUT_DEFAULTS.threshold,
    lockoutMs: seconds(config?.lockout_duration, LOCKOUT_DEFAULTS.durationSeconds) * 1000,
    counterResetMs: seconds(config?.lockout_counter_reset, LOCKOUT_DEFAULTS.counterResetSeconds) * 1000,
  };
}

/**
 * The field of a login body that names who is logging in, by the shared login contract: AppRole's `role_id`, the
 * `role` of JWT and Kubernetes, LDAP's `username`, the certificate role `name`. A body with none of them (a
 * certificate login trying every role) is counted per mount and address.
 */
const SUBJECT_FIELDS = ['role_id', 'role', 'username', 'name'] as const;

/** Where a login is attempted, for the lockout. */
export interface LockoutAttempt {
  readonly mountId: string;
  readonly mountPath: string;
  readonly body: unknown;
  readonly sourceIp: string;
  readonly now: number;
}

/**
 * Brute-force protection for logins, over the rate-limit counters (so it holds across Lambda instances). The key is
 * the HMAC of mount, login subject and source address: the counters never hold a user name or role id in clear.
 *
 * @example
 * const lockout = new LoginLockout({ counters, hmac });
 * const key = await lockout.check(attempt); // throws RateLimitedError ('locked_out') while locked
 * ok ? await lockout.succeeded(key) : await lockout.failed(key, rule, attempt.now);
 */
export class LoginLockout {
  private readonly counters: RateLimitCounters;
  private readonly hmac: (value: string) => string;

  constructor(options: { readonly counters: RateLimitCounters; readonly hmac: (value: string) => string }) {
    this.counters = options.counters;
    this.hmac = options.hmac;
  }

  /**
   * The attempt's key, once it is known not to be locked out.
   * @throws RateLimitedError (`locked_out`) while it is
   */
  async check(attempt: LockoutAttempt): Promise<string> {
    const key = this.keyOf(attempt);
    const until = await this.counters.lockedUntil(key, attempt.now);
    if (until !== undefined) throw lockedOut(attempt, until);
    return key;
  }

  /**
   * Counts a refused credential. The attempt that reaches the threshold is still refused as a bad credential (that is
   * what it was); the lock refuses the ones after it.
   * @returns until when the key is now locked out, if this failure locked it
   */
  async failed(key: string, rule: FailureRule, now: number): Promise<number | undefined> {
    return this.counters.recordFailure(key, rule, now);
  }

  async succeeded(key: string): Promise<void> {
    await this.counters.clearFailures(key);
  }

  private keyOf(attempt: LockoutAttempt): string {
    const body = (typeof attempt.body === 'object' && attempt.body !== null ? attempt.body : {}) as Record<
      string,
      unknown
    >;
    const field = SUBJECT_FIELDS.find((name) => typeof body[name] === 'string');
    const subject = field === undefined ? '' : `${field}=${body[field] as string}`;
    return this.hmac(`lockout\n${attempt.mountId}\n${subject}\n${attempt.sourceIp}`);
  }
}

function lockedOut(attempt: LockoutAttempt, until: number): RateLimitedError {
  const seconds = retryAfterSeconds(until - attempt.now);
  return new RateLimitedError(
    `too many failed logins at auth/${attempt.mountPath} for this user or role from this address: locked out; ` +
      `retry after ${seconds}s`,
    'locked_out',
    seconds,
  );
}
