import { ConflictError, NotFoundError } from '../errors.ts';
import type { Clock } from '../ports/clock.ts';
import type { BucketLimit, RateLimitCounters } from '../ports/rate-limit-counters.ts';
import { ConditionFailedError, type Store } from '../ports/store.ts';
import { RateLimitedError, retryAfterSeconds } from './quota-errors.ts';
import { type QuotaSubject, type QuotaWrite, RATE_LIMIT_QUOTA_PARTITION, type RateLimitQuota } from './quota-types.ts';

/**
 * Paths no quota limits: the liveness probe (load balancers must see a throttled node as alive) and the quotas
 * themselves (an operator must always be able to lift a quota set too low).
 */
const EXEMPT_PATHS: readonly string[] = ['sys/health', 'sys/quotas/'];

export interface QuotaServiceOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly counters: RateLimitCounters;
  /** Keys every bucket: addresses and principal ids never reach the counters in clear. */
  readonly hmac: (value: string) => string;
  /**
   * How long one read of the quota list serves requests. Writes through this service refresh it at once; another
   * instance (a Lambda) sees a change within this time.
   * @default 5000
   */
  readonly refreshMs?: number;
}

type QuotaItem = { [K in keyof RateLimitQuota]: RateLimitQuota[K] };

/**
 * Rate-limit quotas as Vault's `sys/quotas/rate-limit/<name>`: definitions in the store, one token bucket per quota
 * and dimension value in the counters. The broker calls {@link QuotaService.enforce} once per request, before the
 * request record and the handler.
 *
 * @example
 * const quotas = new QuotaService({ store, clock, counters: new MemoryRateLimitCounters(), hmac });
 * await quotas.put('logins', { path: 'auth/approle/', rate: 10, interval: 1, per: 'source' });
 * await quotas.enforce({ path: 'auth/approle/login', sourceIp: '10.0.0.7' }); // throws RateLimitedError at the 11th
 */
export class QuotaService {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly counters: RateLimitCounters;
  private readonly hmac: (value: string) => string;
  private readonly refreshMs: number;
  private cache: { readonly quotas: readonly RateLimitQuota[]; readonly until: number } | undefined;

  constructor(options: QuotaServiceOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.counters = options.counters;
    this.hmac = options.hmac;
    this.refreshMs = options.refreshMs ?? 5000;
  }

  /**
   * Creates or replaces the quota `name`.
   * @throws ConflictError when another write of it won meanwhile
   */
  async put(name: string, write: QuotaWrite): Promise<RateLimitQuota> {
    const now = this.clock.now();
    const previous = await this.store.get<QuotaItem>(RATE_LIMIT_QUOTA_PARTITION, name);
    const quota: RateLimitQuota = {
      name,
      path: write.path,
      rate: write.rate,
      intervalSeconds: write.interval,
      burst: write.burst ?? Math.ceil(write.rate),
      blockIntervalSeconds: write.block_interval ?? 0,
      per: write.per,
      createdAt: previous?.data.createdAt ?? now,
      updatedAt: now,
    };
    const data: QuotaItem = { ...quota };
    try {
      await this.store.transact([
        {
          type: 'put',
          pk: RATE_LIMIT_QUOTA_PARTITION,
          sk: name,
          data,
          condition: previous === undefined ? { kind: 'absent' } : { kind: 'rev', rev: previous.rev },
        },
      ]);
    } catch (err) {
      if (err instanceof ConditionFailedError) {
        throw new ConflictError(`rate-limit quota ${name} was changed meanwhile; read it and try again`);
      }
      throw err;
    } finally {
      this.cache = undefined;
    }
    return quota;
  }

  /** @throws NotFoundError */
  async get(name: string): Promise<RateLimitQuota> {
    const item = await this.store.get<QuotaItem>(RATE_LIMIT_QUOTA_PARTITION, name);
    if (item === undefined) throw new NotFoundError(`rate-limit quota ${name} not found`);
    return item.data;
  }

  async list(): Promise<RateLimitQuota[]> {
    const quotas: RateLimitQuota[] = [];
    let startAfter: string | undefined;
    do {
      const page = await this.store.query<QuotaItem>(RATE_LIMIT_QUOTA_PARTITION, {
        limit: 1000,
        ...(startAfter === undefined ? {} : { startAfter }),
      });
      quotas.push(...page.items.map((item) => item.data));
      startAfter = page.lastKey;
    } while (startAfter !== undefined);
    return quotas;
  }

  /** @throws NotFoundError */
  async delete(name: string): Promise<void> {
    try {
      await this.store.transact([
        { type: 'delete', pk: RATE_LIMIT_QUOTA_PARTITION, sk: name, condition: { kind: 'exists' } },
      ]);
    } catch (err) {
      if (err instanceof ConditionFailedError) throw new NotFoundError(`rate-limit quota ${name} not found`);
      throw err;
    } finally {
      this.cache = undefined;
    }
  }

  /**
   * Takes a token for the request from the bucket of the most specific quota matching its path (none: no limit).
   * @throws RateLimitedError when the bucket is empty
   */
  async enforce(subject: QuotaSubject): Promise<void> {
    if (EXEMPT_PATHS.some((exempt) => subject.path.startsWith(exempt))) return;
    const quota = mostSpecific(await this.quotas(), subject.path);
    if (quota === undefined) return;
    const limit: BucketLimit = {
      rate: quota.rate,
      intervalMs: quota.intervalSeconds * 1000,
      burst: quota.burst,
      blockMs: quota.blockIntervalSeconds * 1000,
    };
    // The quota's update time is part of the key: a changed quota starts with a full bucket of its new size.
    const key = this.hmac(`quota\n${quota.name}\n${quota.updatedAt}\n${dimensionValue(quota, subject)}`);
    const decision = await this.counters.take(key, limit, this.clock.now());
    if (decision.allowed) return;
    const seconds = retryAfterSeconds(decision.retryAfterMs);
    const scope = quota.path === '' ? 'all requests' : `requests under ${quota.path}`;
    throw new RateLimitedError(
      `rate limit exceeded: quota ${quota.name} allows ${quota.rate} ${scope} per ${quota.intervalSeconds}s ` +
        `(${describeDimension(quota.per)}); retry after ${seconds}s`,
      'rate_limited',
      seconds,
    );
  }

  private async quotas(): Promise<readonly RateLimitQuota[]> {
    const now = this.clock.now();
    if (this.cache !== undefined && now < this.cache.until) return this.cache.quotas;
    const quotas = await this.list();
    this.cache = { quotas, until: now + this.refreshMs };
    return quotas;
  }
}

/** The quota with the longest path that prefixes `path` ('' matches everything); ties go to the first by name. */
export function mostSpecific(quotas: readonly RateLimitQuota[], path: string): RateLimitQuota | undefined {
  let best: RateLimitQuota | undefined;
  for (const quota of quotas) {
    if (!path.startsWith(quota.path)) continue;
    if (best === undefined || quota.path.length > best.path.length) best = quota;
  }
  return best;
}

function dimensionValue(quota: RateLimitQuota, subject: QuotaSubject): string {
  switch (quota.per) {
    case 'global':
      return 'global';
    case 'source':
      return `source:${subject.sourceIp}`;
    case 'principal':
      // A request that needs no principal (a login) is counted per address instead: it has no one else to be.
      return subject.principalId === undefined ? `source:${subject.sourceIp}` : `principal:${subject.principalId}`;
  }
}

function describeDimension(per: RateLimitQuota['per']): string {
  return per === 'global' ? 'shared by every caller' : per === 'source' ? 'per source address' : 'per principal';
}
