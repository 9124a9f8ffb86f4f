import { type Claims, soleNodeClaims } from '../coordination/claims.ts';
import { ConflictError, InvalidRequestError, LimitExceededError, NotFoundError, ValidationError } from '../errors.ts';
import { GroupCommit } from '../group-commit.ts';
import { Mutex } from '../mutex.ts';
import type { Clock } from '../ports/clock.ts';
import {
  ConditionFailedError,
  MAX_TRANSACTION_OPS,
  type Store,
  type StoredItem,
  type WriteOp,
} from '../ports/store.ts';
import { retryOnConflict } from '../retry.ts';
import {
  assertLeaseId,
  assertLeasePrefix,
  backoffMs,
  failureMessage,
  mapBounded,
  newLeaseId,
  yieldToEventLoop,
} from './lease-fns.ts';
import {
  type CredentialOf,
  DUE_PK,
  type DynamicKind,
  type DynamicProvider,
  dueKey,
  FAILED_PK,
  type HandleOf,
  LEASE_PK,
  type LeaseRecord,
  type LeaseView,
  PREFIX_JOB_PK,
  type ProviderRegistry,
  QUOTA_PK,
  viewOf,
} from './lease-types.ts';

/**
 * Attempts of a read-modify-write of the quota counters (reserve, finalize): every node's issue and revoke moves
 * them, so they see the most contention.
 */
const RESERVE_ATTEMPTS = 21;
const FINALIZE_ATTEMPTS = 21;
/** Attempts of a renewal: each one renews at the target again, so fewer. */
const RENEW_ATTEMPTS = 6;

export interface LeaseServiceOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly providers: ProviderRegistry;
  /** Live leases per role, unless the role sets its own. @default 1000 */
  readonly maxLeasesPerRole?: number | undefined;
  /** Live leases per principal, across roles. @default 1000 */
  readonly maxLeasesPerPrincipal?: number | undefined;
  /** First retry delay of a failed revocation; doubles per attempt. @default 1000 */
  readonly retryBaseMs?: number | undefined;
  /** @default 300_000 */
  readonly retryMaxMs?: number | undefined;
  /** Target revocations in flight at once. @default 16 */
  readonly revokeConcurrency?: number | undefined;
  /** Leases per batch of a bulk revocation; the event loop gets a turn between batches. @default 200 */
  readonly batchSize?: number | undefined;
  /** A lease still `issuing` after this long was interrupted (crash) and is abandoned. @default 60_000 */
  readonly issueGraceMs?: number | undefined;
  /**
   * Where nodes share the store: each revocation at a target runs on the node holding the lease's claim, so an API
   * revoke on one node and a sweep on another never revoke one credential at once. @default soleNodeClaims
   */
  readonly claims?: Claims | undefined;
  /** How long a lease's revocation stays its node's; a node killed mid-revocation delays the retry this long. @default 120_000 */
  readonly revokeClaimTtlMs?: number | undefined;
}

/** The claim naming the node revoking a lease at its target. */
export function leaseClaim(leaseId: string): string {
  return `lease/${leaseId}`;
}

export interface IssueInput<K extends DynamicKind> {
  readonly kind: K;
  readonly role: string;
  readonly principalId: string;
  /** @default the role's default TTL; capped by its max TTL */
  readonly ttlSeconds?: number | undefined;
  /** Handed to the provider's `issue` as it is (the provider validates it). @default none */
  readonly request?: unknown;
  /**
   * The action the lease is named after: `sign` for a key the engine signs (SSH certificates), so the lease sits
   * under the policy path the caller was authorised at (`ssh/sign/<role>/<id>`). @default 'creds'
   */
  readonly action?: 'creds' | 'sign';
}

export interface RevokeOutcome {
  readonly leaseId: string;
  /** True once the credential is gone at the target and the lease is deleted. */
  readonly revoked: boolean;
  /** Present while a failed revocation waits for its retry. */
  readonly lease?: LeaseView;
}

export interface BulkOutcome {
  readonly revoked: number;
  /** Revocations that failed; they stay `revoking` and the sweeper retries them. */
  readonly failed: number;
}

export interface SweepOutcome extends BulkOutcome {
  /** Leases whose issue was interrupted (crash) and that were dropped. */
  readonly abandoned: number;
}

type LeaseItem = StoredItem<LeaseRecord>;

interface Reservation {
  readonly lease: LeaseRecord;
  readonly roleLimit: number;
}

/**
 * Leases of dynamic credentials: issue (with quotas), renew, revoke, revoke by prefix, and expiry by a sweeper.
 *
 * Crash safety rests on one ordering rule: the intent is persisted before the target is touched.
 * - Issue reserves the lease (`issuing`, counted in the quotas) before the provider creates anything.
 * - Revoke marks the lease `revoking`, due now, before the provider is called; the sweeper picks up every due
 *   `revoking` lease, so a revocation cut short by a crash is completed after restart.
 * - Revoke-prefix persists a job record first, so a crash before every lease was marked still finishes the subtree.
 *
 * Expiry is a range query over a due index (sort key = due time), never a scan. A failed revocation stays
 * `revoking`, with its last error and attempt count (`list({ failed: true })`), and is retried with backoff.
 *
 * @example
 * ```ts
 * const leases = new LeaseService({ store, clock, providers: { database, aws } });
 * const { lease, credential } = await leases.issue({ kind: 'database', role: 'app', principalId: 'acc-1' });
 * await leases.revoke(lease.leaseId);
 * ```
 */
export class LeaseService {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly providers: ProviderRegistry;
  private readonly maxPerRole: number;
  private readonly maxPerPrincipal: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly issueGraceMs: number;
  private readonly claims: Claims;
  private readonly revokeClaimTtlMs: number;
  /** Bookkeeping writes that touch the quota counters run one at a time on a node. */
  private readonly quotaLock = new Mutex();
  /**
   * Reservations queue and are committed in batches (one transaction per batch, quota counters read once), so
   * concurrent issues do not serialise on one fsync each. Under the quota lock, as finalizing moves the same counters.
   */
  private readonly reservations = new GroupCommit<Reservation>({
    // Two writes per lease plus at most two counters each keeps a batch within one transaction.
    maxBatch: Math.floor(MAX_TRANSACTION_OPS / 4),
    schedule: 'now',
    exclusive: (section) => this.quotaLock.run(section),
    commit: (batch) => this.commitReserves(batch),
  });
  /** Target revocations in flight on this node, so the sweeper and an API call never revoke one lease twice. */
  private readonly inFlight = new Map<string, Promise<RevokeOutcome>>();
  private readonly prefixJobs = new Map<string, Promise<BulkOutcome>>();
  /** Leases a batch on this node is revoking, from marking to finalizing. */
  private readonly claimed = new Set<string>();
  private sweeping: Promise<SweepOutcome> | undefined;

  constructor(options: LeaseServiceOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.providers = options.providers;
    this.maxPerRole = options.maxLeasesPerRole ?? 1000;
    this.maxPerPrincipal = options.maxLeasesPerPrincipal ?? 1000;
    this.retryBaseMs = options.retryBaseMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 300_000;
    this.concurrency = options.revokeConcurrency ?? 16;
    this.batchSize = options.batchSize ?? 200;
    this.issueGraceMs = options.issueGraceMs ?? 60_000;
    this.claims = options.claims ?? soleNodeClaims;
    this.revokeClaimTtlMs = options.revokeClaimTtlMs ?? 120_000;
  }

  private provider<K extends DynamicKind>(kind: K): DynamicProvider<K> {
    return this.providers[kind] as DynamicProvider<K>;
  }

  /**
   * Issues a credential under a new lease.
   *
   * @throws LimitExceededError when the role or the principal already holds its quota of live leases
   * @throws NotFoundError when the role does not exist
   */
  async issue<K extends DynamicKind>(input: IssueInput<K>): Promise<{ lease: LeaseView; credential: CredentialOf<K> }> {
    const provider = this.provider(input.kind);
    const limits = await provider.roleLimits(input.role);
    const rolePath = `${input.kind}/${input.action ?? 'creds'}/${input.role}`;
    const ttl = input.ttlSeconds ?? limits.defaultTtlSeconds;
    if (!Number.isSafeInteger(ttl) || ttl <= 0) throw new ValidationError('ttl must be a positive number of seconds');
    const now = this.clock.now();
    const maxExpiresAt = now + limits.maxTtlSeconds * 1000;
    const expiresAt = Math.min(now + ttl * 1000, maxExpiresAt);
    const leaseId = newLeaseId(rolePath);
    let lease: LeaseRecord = {
      leaseId,
      kind: input.kind,
      rolePath,
      role: input.role,
      principalId: input.principalId,
      state: 'issuing',
      issuedAt: now,
      expiresAt,
      maxExpiresAt,
      ttlSeconds: Math.round((expiresAt - now) / 1000),
      dueAt: now + this.issueGraceMs,
      attempts: 0,
    };
    const roleLimit = limits.maxLeases ?? this.maxPerRole;
    await this.reserve(lease, roleLimit);
    let issued: { credential: CredentialOf<K>; revokeHandle: HandleOf<K>; endsAt?: number | undefined };
    try {
      issued = await provider.issue(input.role, lease.ttlSeconds, expiresAt, input.request);
    } catch (err) {
      // Nothing was created at the target: release the reservation.
      await this.finalize([await this.mustGet(leaseId)]).catch(() => {
        // The sweeper abandons the reservation after the grace period.
      });
      throw err;
    }
    const reserved = await this.mustGet(leaseId);
    // A credential the target ends sooner takes its lease with it: a lease never outlives what it stands for.
    const endsAt = Math.min(expiresAt, issued.endsAt ?? expiresAt);
    lease = {
      ...reserved.data,
      state: 'active',
      revokeHandle: issued.revokeHandle,
      expiresAt: endsAt,
      maxExpiresAt: Math.min(reserved.data.maxExpiresAt, issued.endsAt ?? reserved.data.maxExpiresAt),
      dueAt: endsAt,
    };
    try {
      await this.store.transact([
        { type: 'put', pk: LEASE_PK, sk: leaseId, data: lease, condition: { kind: 'rev', rev: reserved.rev } },
        ...moveDue(reserved.data, lease),
      ]);
    } catch (err) {
      // The credential exists but its lease could not be recorded: take it back rather than leak it.
      await provider.revoke(issued.revokeHandle).catch(() => {});
      await this.finalize([await this.mustGet(leaseId)]).catch(() => {});
      if (err instanceof ConditionFailedError) throw new ConflictError(`lease ${leaseId} changed while it was issued`);
      throw err;
    }
    return { lease: viewOf(lease), credential: issued.credential };
  }

  /** Reserves quota for a lease (see `reservations`). */
  private reserve(lease: LeaseRecord, roleLimit: number): Promise<void> {
    return this.reservations.add({ lease, roleLimit });
  }

  /**
   * Checks each reservation against the running counts and commits those within quota.
   * @returns per reservation: `undefined` when committed, the LimitExceededError when over quota
   */
  private async commitReserves(batch: readonly Reservation[]): Promise<(LimitExceededError | undefined)[]> {
    // Another node moving a counter makes the transaction fail: re-read and re-check the whole batch.
    return retryOnConflict(
      async () => {
        const keys = [
          ...new Set(batch.flatMap((e) => [`role:${e.lease.rolePath}`, `principal:${e.lease.principalId}`])),
        ];
        const items = new Map(
          await Promise.all(
            keys.map(async (key) => [key, await this.store.get<{ count: number }>(QUOTA_PK, key)] as const),
          ),
        );
        const counts = new Map(keys.map((key) => [key, items.get(key)?.data.count ?? 0]));
        const accepted: Reservation[] = [];
        const outcomes: (LimitExceededError | undefined)[] = [];
        for (const entry of batch) {
          const roleKey = `role:${entry.lease.rolePath}`;
          const principalKey = `principal:${entry.lease.principalId}`;
          const roleLive = counts.get(roleKey)!;
          const principalLive = counts.get(principalKey)!;
          if (roleLive >= entry.roleLimit) {
            outcomes.push(
              new LimitExceededError(
                `role ${entry.lease.rolePath} already has ${roleLive} live leases, its limit of ${entry.roleLimit}; revoke some or raise the role's max_leases`,
              ),
            );
          } else if (principalLive >= this.maxPerPrincipal) {
            outcomes.push(
              new LimitExceededError(
                `the caller already holds ${principalLive} live leases, its limit of ${this.maxPerPrincipal}; revoke some first`,
              ),
            );
          } else {
            counts.set(roleKey, roleLive + 1);
            counts.set(principalKey, principalLive + 1);
            accepted.push(entry);
            outcomes.push(undefined);
          }
        }
        const ops: WriteOp[] = [];
        for (const key of keys) {
          const before = items.get(key)?.data.count ?? 0;
          if (counts.get(key) !== before) ops.push(counterOp(key, items.get(key), counts.get(key)!));
        }
        for (const { lease } of accepted) {
          ops.push(
            { type: 'put', pk: LEASE_PK, sk: lease.leaseId, data: lease, condition: { kind: 'absent' } },
            { type: 'put', pk: DUE_PK, sk: dueKey(lease.dueAt, lease.leaseId), data: { leaseId: lease.leaseId } },
          );
        }
        if (ops.length > 0) await this.store.transact(ops);
        return outcomes;
      },
      { maxAttempts: RESERVE_ATTEMPTS },
    );
  }

  async lookup(leaseId: string): Promise<LeaseView> {
    return viewOf((await this.mustGet(assertLeaseId(leaseId))).data);
  }

  /** Leases under a prefix, in id order; `failed` keeps only revocations that failed at least once. */
  async list(
    options: { prefix?: string; failed?: boolean; limit?: number; cursor?: string } = {},
  ): Promise<{ leases: LeaseView[]; nextCursor?: string }> {
    const prefix = options.prefix === undefined || options.prefix === '' ? '' : assertLeasePrefix(options.prefix);
    const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
    if (options.failed === true) {
      const page = await this.store.query(FAILED_PK, { prefix, limit, startAfter: options.cursor });
      const leases: LeaseView[] = [];
      for (const item of page.items) {
        const lease = await this.store.get<LeaseRecord>(LEASE_PK, item.sk);
        if (lease !== undefined) leases.push(viewOf(lease.data));
      }
      return page.lastKey === undefined ? { leases } : { leases, nextCursor: page.lastKey };
    }
    const page = await this.store.query<LeaseRecord>(LEASE_PK, {
      prefix,
      limit,
      startAfter: options.cursor,
    });
    const leases = page.items.map((item) => viewOf(item.data));
    return page.lastKey === undefined ? { leases } : { leases, nextCursor: page.lastKey };
  }

  /**
   * Extends a live lease from now by `incrementSeconds` (default: its TTL at issue), capped by its max TTL.
   *
   * @throws InvalidRequestError when the lease is expired or being revoked
   */
  async renew(leaseId: string, incrementSeconds?: number): Promise<LeaseView & { capped: boolean }> {
    assertLeaseId(leaseId);
    if (incrementSeconds !== undefined && (!Number.isSafeInteger(incrementSeconds) || incrementSeconds <= 0)) {
      throw new ValidationError('increment must be a positive number of seconds');
    }
    return retryOnConflict(
      async () => {
        const item = await this.mustGet(leaseId);
        const lease = item.data;
        const now = this.clock.now();
        if (lease.state !== 'active' || lease.expiresAt <= now) {
          throw new InvalidRequestError(
            `lease ${leaseId} is ${lease.state === 'active' ? 'expired' : lease.state}; it cannot be renewed`,
          );
        }
        const wanted = now + (incrementSeconds ?? lease.ttlSeconds) * 1000;
        const expiresAt = Math.min(wanted, lease.maxExpiresAt);
        const provider = this.provider(lease.kind);
        if (provider.renew !== undefined && lease.revokeHandle !== undefined) {
          await provider.renew(lease.revokeHandle as never, expiresAt);
        }
        const next: LeaseRecord = { ...lease, expiresAt, dueAt: expiresAt };
        await this.store.transact([
          { type: 'put', pk: LEASE_PK, sk: leaseId, data: next, condition: { kind: 'rev', rev: item.rev } },
          ...moveDue(lease, next),
        ]);
        return { ...viewOf(next), capped: wanted > lease.maxExpiresAt };
      },
      { maxAttempts: RENEW_ATTEMPTS },
    );
  }

  /**
   * Revokes one lease: persists the intent, then revokes at the target. When the target fails, the lease stays
   * `revoking` with the error recorded, and the sweeper retries it.
   */
  async revoke(leaseId: string): Promise<RevokeOutcome> {
    const item = await this.mustGet(assertLeaseId(leaseId));
    const [marked] = await this.markRevoking([item]);
    return this.attempt(marked!);
  }

  /**
   * Revokes every lease whose id starts with `prefix`, in batches with bounded concurrency, yielding to the event loop
   * between batches. A job record is persisted first, so a crash mid-way is finished by the sweeper after restart.
   */
  async revokePrefix(prefix: string): Promise<BulkOutcome> {
    assertLeasePrefix(prefix);
    const running = this.prefixJobs.get(prefix);
    if (running !== undefined) return running;
    const job = (async () => {
      await this.store.transact([
        { type: 'put', pk: PREFIX_JOB_PK, sk: prefix, data: { prefix, requestedAt: this.clock.now() } },
      ]);
      const outcome = await this.runPrefixJob(prefix);
      await this.store.transact([{ type: 'delete', pk: PREFIX_JOB_PK, sk: prefix }]);
      return outcome;
    })();
    this.prefixJobs.set(prefix, job);
    try {
      return await job;
    } finally {
      this.prefixJobs.delete(prefix);
    }
  }

  private async runPrefixJob(prefix: string): Promise<BulkOutcome> {
    let revoked = 0;
    let failed = 0;
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.store.query<LeaseRecord>(LEASE_PK, {
        prefix,
        startAfter,
        limit: this.batchSize,
      });
      const items = page.items.filter((item) => !this.inFlight.has(item.sk) && !this.claimed.has(item.sk));
      if (items.length > 0) {
        const outcome = await this.revokeBatch(items);
        revoked += outcome.revoked;
        failed += outcome.failed;
      }
      if (page.lastKey === undefined) break;
      startAfter = page.lastKey;
      await yieldToEventLoop();
    }
    return { revoked, failed };
  }

  /** Marks (persisting intent), revokes at the targets with bounded concurrency, and deletes what succeeded. */
  private async revokeBatch(all: readonly LeaseItem[]): Promise<BulkOutcome> {
    // Claimed until finalized, so a concurrent sweep never revokes (and finalizes) the same lease a second time.
    const items = all.filter((item) => !this.claimed.has(item.sk) && !this.inFlight.has(item.sk));
    for (const item of items) this.claimed.add(item.sk);
    try {
      return await this.revokeClaimed(items);
    } finally {
      for (const item of items) this.claimed.delete(item.sk);
    }
  }

  private async revokeClaimed(items: readonly LeaseItem[]): Promise<BulkOutcome> {
    const marked = await this.markRevoking(items);
    const withHandle = marked.filter((item) => item.data.revokeHandle !== undefined);
    const results = await mapBounded(withHandle, this.concurrency, (item) => this.attempt(item, { finalize: false }));
    const done: LeaseItem[] = marked.filter((item) => item.data.revokeHandle === undefined);
    let failed = 0;
    results.forEach((result, i) => {
      if (result.status === 'fulfilled' && result.value.revoked) done.push(withHandle[i]!);
      else failed++;
    });
    try {
      return { revoked: await this.finalize(done), failed };
    } finally {
      // Held until the leases are deleted, so no other node revokes one again in between.
      await this.releaseClaims(done.filter((item) => item.data.revokeHandle !== undefined));
    }
  }

  /** Sets `revoking`, due now, on every lease not already revoking: the persisted intent. */
  private async markRevoking(items: readonly LeaseItem[]): Promise<LeaseItem[]> {
    const now = this.clock.now();
    const out: LeaseItem[] = [];
    const pending: { item: LeaseItem; next: LeaseRecord }[] = [];
    for (const item of items) {
      if (item.data.state === 'revoking') out.push(item);
      else pending.push({ item, next: { ...item.data, state: 'revoking', revokeRequestedAt: now, dueAt: now } });
    }
    // Three operations per lease (the lease, and its due-index entry moved).
    for (let i = 0; i < pending.length; i += Math.floor(MAX_TRANSACTION_OPS / 3)) {
      const chunk = pending.slice(i, i + Math.floor(MAX_TRANSACTION_OPS / 3));
      const ops = chunk.flatMap(({ item, next }): WriteOp[] => [
        { type: 'put', pk: LEASE_PK, sk: item.sk, data: next, condition: { kind: 'rev', rev: item.rev } },
        ...moveDue(item.data, next),
      ]);
      try {
        await this.store.transact(ops);
        for (const { item, next } of chunk) out.push({ ...item, rev: item.rev + 1, data: next as LeaseItem['data'] });
      } catch (err) {
        if (!(err instanceof ConditionFailedError)) throw err;
        // A lease in the chunk changed under us: mark them one at a time from fresh reads.
        for (const { item } of chunk) {
          const fresh = await this.markOne(item.sk);
          if (fresh !== undefined) out.push(fresh);
        }
      }
    }
    return out;
  }

  private async markOne(leaseId: string): Promise<LeaseItem | undefined> {
    return retryOnConflict(
      async () => {
        const item = await this.store.get<LeaseItem['data']>(LEASE_PK, leaseId);
        if (item === undefined) return undefined;
        if (item.data.state === 'revoking') return item;
        const now = this.clock.now();
        const next: LeaseRecord = { ...item.data, state: 'revoking', revokeRequestedAt: now, dueAt: now };
        await this.store.transact([
          { type: 'put', pk: LEASE_PK, sk: leaseId, data: next, condition: { kind: 'rev', rev: item.rev } },
          ...moveDue(item.data, next),
        ]);
        return { ...item, rev: item.rev + 1, data: next as LeaseItem['data'] };
      },
      { maxAttempts: 10, onExhausted: () => new ConflictError(`lease ${leaseId} keeps changing; try again`) },
    );
  }

  /** One revocation attempt at the target, shared with any concurrent attempt on the same lease. */
  private attempt(read: LeaseItem, options: { finalize?: boolean } = {}): Promise<RevokeOutcome> {
    const running = this.inFlight.get(read.sk);
    if (running !== undefined) return running;
    const promise = (async (): Promise<RevokeOutcome> => {
      let item = read;
      const lease = item.data;
      if (lease.revokeHandle !== undefined) {
        if (!(await this.claims.claim(leaseClaim(item.sk), this.revokeClaimTtlMs))) {
          // Another node is revoking it at the target right now; if that node dies, a sweep retries after its claim.
          return { leaseId: lease.leaseId, revoked: false, lease: viewOf(lease) };
        }
        if (this.claims !== soleNodeClaims) {
          // Read again under the claim: another node may have revoked it and released the claim since `read`.
          const current = await this.store.get<LeaseItem['data']>(LEASE_PK, item.sk);
          if (current === undefined) {
            await this.releaseClaims([item]);
            return { leaseId: lease.leaseId, revoked: true };
          }
          item = current;
        }
        try {
          await this.provider(lease.kind).revoke(lease.revokeHandle as never);
        } catch (err) {
          await this.releaseClaims([item]);
          return this.recordFailure(item, err);
        }
      }
      if (options.finalize !== false) {
        try {
          await this.finalize([item]);
        } finally {
          await this.releaseClaims([item]);
        }
      }
      return { leaseId: lease.leaseId, revoked: true };
    })();
    this.inFlight.set(read.sk, promise);
    return promise.finally(() => this.inFlight.delete(read.sk));
  }

  private async releaseClaims(items: readonly LeaseItem[]): Promise<void> {
    if (this.claims === soleNodeClaims) return;
    // A claim left behind only delays a retry by its TTL: never worth failing a revocation that succeeded.
    await Promise.allSettled(items.map((item) => this.claims.release(leaseClaim(item.sk))));
  }

  private async recordFailure(item: LeaseItem, err: unknown): Promise<RevokeOutcome> {
    const now = this.clock.now();
    const attempts = item.data.attempts + 1;
    const next: LeaseRecord = {
      ...item.data,
      attempts,
      lastError: failureMessage(err),
      lastAttemptAt: now,
      dueAt: now + backoffMs(attempts, this.retryBaseMs, this.retryMaxMs),
    };
    try {
      await this.store.transact([
        { type: 'put', pk: LEASE_PK, sk: item.sk, data: next, condition: { kind: 'rev', rev: item.rev } },
        ...moveDue(item.data, next),
        { type: 'put', pk: FAILED_PK, sk: item.sk, data: { leaseId: item.sk } },
      ]);
    } catch (writeErr) {
      // The lease stays due; the next sweep tries again.
      if (!(writeErr instanceof ConditionFailedError)) throw writeErr;
    }
    return { leaseId: item.sk, revoked: false, lease: viewOf(next) };
  }

  /** Deletes leases (and their index entries) and releases their quota, in as few transactions as fit. */
  private async finalize(items: readonly LeaseItem[]): Promise<number> {
    let done = 0;
    let chunk: LeaseItem[] = [];
    let keys = new Set<string>();
    const flush = async () => {
      if (chunk.length === 0) return;
      const current = chunk;
      chunk = [];
      keys = new Set();
      done += await this.quotaLock.run(() => this.finalizeChunk(current));
      await yieldToEventLoop();
    };
    for (const item of items) {
      const extra = [`role:${item.data.rolePath}`, `principal:${item.data.principalId}`].filter((k) => !keys.has(k));
      if ((chunk.length + 1) * 3 + keys.size + extra.length > MAX_TRANSACTION_OPS) await flush();
      chunk.push(item);
      for (const key of [`role:${item.data.rolePath}`, `principal:${item.data.principalId}`]) keys.add(key);
    }
    await flush();
    return done;
  }

  private async finalizeChunk(items: readonly LeaseItem[]): Promise<number> {
    // A number when the chunk is done; the leases still there when one of them changed under us.
    const outcome = await retryOnConflict(
      async (): Promise<number | LeaseItem[]> => {
        const decrements = new Map<string, number>();
        for (const item of items) {
          for (const key of [`role:${item.data.rolePath}`, `principal:${item.data.principalId}`]) {
            decrements.set(key, (decrements.get(key) ?? 0) + 1);
          }
        }
        const counters = await Promise.all(
          [...decrements.keys()].map(async (key) => ({
            key,
            item: await this.store.get<{ count: number }>(QUOTA_PK, key),
          })),
        );
        const ops: WriteOp[] = items.flatMap((item): WriteOp[] => [
          { type: 'delete', pk: LEASE_PK, sk: item.sk, condition: { kind: 'rev', rev: item.rev } },
          { type: 'delete', pk: DUE_PK, sk: dueKey(item.data.dueAt, item.sk) },
          { type: 'delete', pk: FAILED_PK, sk: item.sk },
        ]);
        for (const { key, item } of counters) {
          const count = Math.max(0, (item?.data.count ?? 0) - decrements.get(key)!);
          if (item === undefined) continue;
          ops.push(
            count === 0
              ? { type: 'delete', pk: QUOTA_PK, sk: key, condition: { kind: 'rev', rev: item.rev } }
              : counterOp(key, item, count),
          );
        }
        try {
          await this.store.transact(ops);
          return items.length;
        } catch (err) {
          if (err instanceof ConditionFailedError && err.pk === LEASE_PK) {
            // One lease changed (or is gone): settle the others, then that one from a fresh read.
            const fresh = await Promise.all(items.map((item) => this.store.get<LeaseItem['data']>(LEASE_PK, item.sk)));
            const still = fresh.filter((item): item is LeaseItem => item !== undefined);
            if (still.length !== items.length || still.some((item, i) => item.rev !== items[i]!.rev)) return still;
          }
          throw err;
        }
      },
      { maxAttempts: FINALIZE_ATTEMPTS },
    );
    if (typeof outcome === 'number') return outcome;
    return outcome.length === 0 ? 0 : this.finalizeChunk(outcome);
  }

  /**
   * One pass of the expiry sweeper: resumes interrupted prefix jobs, then handles every lease due by now (expired,
   * revocation to retry, interrupted issue), batch by batch. Overlapping calls share one pass.
   */
  sweep(): Promise<SweepOutcome> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<SweepOutcome> {
    let revoked = 0;
    let failed = 0;
    let abandoned = 0;
    const jobs = await this.store.query<{ prefix: string }>(PREFIX_JOB_PK, { limit: 100 });
    for (const job of jobs.items) {
      if (this.prefixJobs.has(job.sk)) continue;
      const outcome = await this.revokePrefix(job.sk);
      revoked += outcome.revoked;
      failed += outcome.failed;
    }
    const now = this.clock.now();
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.store.query<{ leaseId: string }>(DUE_PK, { startAfter, limit: this.batchSize });
      const due = page.items.filter((item) => Number(item.sk.slice(0, 15)) <= now);
      const revoke: LeaseItem[] = [];
      const abandon: LeaseItem[] = [];
      const stale: WriteOp[] = [];
      for (const entry of due) {
        if (this.inFlight.has(entry.data.leaseId) || this.claimed.has(entry.data.leaseId)) continue;
        const lease = await this.store.get<LeaseItem['data']>(LEASE_PK, entry.data.leaseId);
        if (lease === undefined || dueKey(lease.data.dueAt, lease.sk) !== entry.sk) {
          stale.push({ type: 'delete', pk: DUE_PK, sk: entry.sk });
        } else if (lease.data.state === 'issuing') {
          abandon.push(lease);
        } else {
          revoke.push(lease);
        }
      }
      if (stale.length > 0) await this.store.transact(stale);
      if (abandon.length > 0) abandoned += await this.finalize(await this.markRevoking(abandon));
      if (revoke.length > 0) {
        const outcome = await this.revokeBatch(revoke);
        revoked += outcome.revoked;
        failed += outcome.failed;
      }
      if (due.length < page.items.length || page.lastKey === undefined) break;
      startAfter = page.lastKey;
      await yieldToEventLoop();
    }
    return { revoked, failed, abandoned };
  }

  /** Waits for in-flight revocations and sweeps (for a graceful stop). */
  async drain(): Promise<void> {
    await Promise.allSettled([this.sweeping, ...this.inFlight.values(), ...this.prefixJobs.values()]);
  }

  private async mustGet(leaseId: string): Promise<LeaseItem> {
    const item = await this.store.get<LeaseItem['data']>(LEASE_PK, leaseId);
    if (item === undefined) throw new NotFoundError(`lease ${leaseId} not found`);
    return item;
  }
}

function counterOp(key: string, current: StoredItem<{ count: number }> | undefined, count: number): WriteOp {
  return {
    type: 'put',
    pk: QUOTA_PK,
    sk: key,
    data: { count },
    condition: current === undefined ? { kind: 'absent' } : { kind: 'rev', rev: current.rev },
  };
}

/** Moves a lease's due-index entry when its due time changes. */
function moveDue(before: LeaseRecord, after: LeaseRecord): WriteOp[] {
  const from = dueKey(before.dueAt, before.leaseId);
  const to = dueKey(after.dueAt, after.leaseId);
  if (from === to) return [];
  return [
    { type: 'delete', pk: DUE_PK, sk: from },
    { type: 'put', pk: DUE_PK, sk: to, data: { leaseId: after.leaseId } },
  ];
}
