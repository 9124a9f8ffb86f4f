import { CofferClientError, CofferNotFoundError } from './errors.ts';
import { Lru } from './lru.ts';
import type { GetSecretValueInput, GetSecretValueOutput } from './types.ts';

/** Where the cache gets values and version maps from: a `CofferClient` without its own cache. */
export interface SecretSource {
  fetch(input: GetSecretValueInput): Promise<GetSecretValueOutput>;
  /** The cheap check: which version carries which label (no value, no decryption), and whether the secret is deleted. */
  versions(
    secretId: string,
  ): Promise<{ versionIdsToStages: Readonly<Record<string, readonly string[]>>; deleted: boolean }>;
}

export interface SecretCacheOptions {
  /** Most values (and remembered not-found answers) kept. 0 disables the cache. @default 1000 */
  readonly maxEntries?: number;
  /** Most bytes of values kept (measured as their JSON). @default 33_554_432 (32 MiB) */
  readonly maxBytes?: number;
  /**
   * How long a value is served as current after its version was last confirmed. After this, the cache asks the
   * server which version carries the label (cheap: metadata only) and fetches the value again only if it moved.
   * @default 300_000
   */
  readonly checkAfterMs?: number;
  /**
   * After `checkAfterMs`, for this much longer the cached value is still served at once while the check runs in the
   * background; beyond it a read waits for the check. So no read returns a value that was not confirmed current within
   * `checkAfterMs + staleWhileRevalidateMs` (plus one round trip), while the server answers.
   * @default 0
   */
  readonly staleWhileRevalidateMs?: number;
  /** A value older than this (since it was fetched) is fetched again, whatever the checks said. @default Infinity */
  readonly expireAfterMs?: number;
  /** How long a not-found answer is remembered, so a missing secret asked for in a loop costs one call. @default 0 */
  readonly negativeTtlMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

export interface SecretCacheStats {
  hits: number;
  /** Served while a background version check ran. */
  staleHits: number;
  negativeHits: number;
  misses: number;
  fetches: number;
  checks: number;
  /** Checks that found the cached version still current, so no value was fetched. */
  unchanged: number;
  /** Checks or fetches that failed while a cached value could still be served (served instead of failing). */
  servedOnError: number;
  evictions: number;
  entries: number;
  bytes: number;
}

interface ValueEntry {
  readonly kind: 'value';
  readonly input: GetSecretValueInput;
  value: GetSecretValueOutput;
  readonly bytes: number;
  readonly fetchedAt: number;
  /** When the version check (or fetch) that last proved this value current was sent. */
  confirmedAt: number;
  lastUsedAt: number;
  checking: Promise<boolean> | undefined;
}

interface MissingEntry {
  readonly kind: 'missing';
  readonly error: CofferNotFoundError;
  readonly until: number;
  readonly bytes: number;
}

type Entry = ValueEntry | MissingEntry;

const CURRENT = 'AWSCURRENT';

/** The cache key: a request without a version id or a label asks for AWSCURRENT, so both spellings share an entry. */
export function cacheKey(input: GetSecretValueInput): string {
  const stage = input.versionStage ?? (input.versionId === undefined ? CURRENT : '');
  return `${input.secretId}\n${input.versionId ?? ''}\n${stage}`;
}

const sameStages = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((s, i) => s === b[i]);

/**
 * A bounded, version-aware cache of secret values, shared by `CofferClient` and the Lambda extension.
 *
 * - Reads of one key are coalesced: concurrent misses make one fetch.
 * - A value addressed by version id never changes, so it is only ever refetched after `expireAfterMs`.
 * - A value addressed by a label (AWSCURRENT by default) is re-confirmed after `checkAfterMs` by a metadata read; a
 *   rotation is noticed there and only then is the new value fetched.
 * - {@link SecretCache.checkDue} lets a poller keep hot entries confirmed so reads never wait.
 *
 * @example
 * const cache = new SecretCache(source, { checkAfterMs: 2000, staleWhileRevalidateMs: 1000, negativeTtlMs: 1000 });
 * const value = await cache.get({ secretId: 'prod/db/password' });
 */
export class SecretCache {
  private readonly source: SecretSource;
  private readonly entries: Lru<string, Entry>;
  private readonly inflight = new Map<string, Promise<GetSecretValueOutput>>();
  private readonly checkAfterMs: number;
  private readonly staleWhileRevalidateMs: number;
  private readonly expireAfterMs: number;
  private readonly negativeTtlMs: number;
  private readonly now: () => number;
  /** Bumped by every invalidation, so a fetch sent before it cannot store an older value after it. */
  private generation = 0;
  private readonly counters = {
    hits: 0,
    staleHits: 0,
    negativeHits: 0,
    misses: 0,
    fetches: 0,
    checks: 0,
    unchanged: 0,
    servedOnError: 0,
  };

  constructor(source: SecretSource, options: SecretCacheOptions = {}) {
    this.source = source;
    this.entries = new Lru<string, Entry>({
      maxEntries: options.maxEntries ?? 1000,
      maxWeight: options.maxBytes ?? 32 * 1024 * 1024,
      weigh: (entry) => entry.bytes,
    });
    this.checkAfterMs = nonNegative('checkAfterMs', options.checkAfterMs ?? 300_000);
    this.staleWhileRevalidateMs = nonNegative('staleWhileRevalidateMs', options.staleWhileRevalidateMs ?? 0);
    this.expireAfterMs = nonNegative('expireAfterMs', options.expireAfterMs ?? Number.POSITIVE_INFINITY);
    this.negativeTtlMs = nonNegative('negativeTtlMs', options.negativeTtlMs ?? 0);
    this.now = options.now ?? Date.now;
  }

  /**
   * The cached value if it can be served right now without any call: confirmed within `checkAfterMs` and not
   * expired. `undefined` means "use {@link SecretCache.get}". This is the extension's allocation-free hit path.
   */
  peekFresh(key: string): GetSecretValueOutput | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.kind !== 'value') return undefined;
    const now = this.now();
    if (now - entry.fetchedAt >= this.expireAfterMs) return undefined;
    if (entry.input.versionId === undefined && now - entry.confirmedAt >= this.checkAfterMs) return undefined;
    entry.lastUsedAt = now;
    this.counters.hits++;
    return entry.value;
  }

  /**
   * Reads through the cache. `refresh: true` always fetches (and stores the result).
   * @throws the source's errors; a not-found answer is remembered for `negativeTtlMs`.
   */
  async get(input: GetSecretValueInput, options: { refresh?: boolean } = {}): Promise<GetSecretValueOutput> {
    const key = cacheKey(input);
    if (options.refresh === true) {
      this.entries.delete(key);
      return this.load(key, input);
    }
    const entry = this.entries.get(key);
    const now = this.now();
    if (entry?.kind === 'missing') {
      if (now < entry.until) {
        this.counters.negativeHits++;
        throw entry.error;
      }
      this.entries.delete(key);
    } else if (entry !== undefined && now - entry.fetchedAt < this.expireAfterMs) {
      entry.lastUsedAt = now;
      const age = now - entry.confirmedAt;
      if (entry.input.versionId !== undefined || age < this.checkAfterMs) {
        this.counters.hits++;
        return entry.value;
      }
      if (age < this.checkAfterMs + this.staleWhileRevalidateMs) {
        this.counters.staleHits++;
        void this.checkAndWarm(key, entry);
        return entry.value;
      }
      let current: boolean;
      try {
        current = await this.check(key, entry);
      } catch {
        // Transient failure (see runCheck): the value is still within its expiry, so serving it beats failing.
        this.counters.servedOnError++;
        return entry.value;
      }
      const after = this.entries.peek(key);
      if (current && after?.kind === 'value') return after.value;
      return this.load(key, input);
    }
    this.counters.misses++;
    return this.load(key, input);
  }

  /** Drops every cached answer for a secret, e.g. after writing it. */
  invalidate(secretId: string): void {
    this.generation++;
    const prefix = `${secretId}\n`;
    for (const [key] of [...this.entries.entries()]) if (key.startsWith(prefix)) this.entries.delete(key);
  }

  /**
   * Checks the version of every label-addressed entry read within `hotWindowMs` and not confirmed for at least
   * `minAgeMs`. A poller calls this every `checkAfterMs` so that hot entries are re-confirmed before reads would wait.
   * Never rejects.
   */
  async checkDue(options: { hotWindowMs: number; minAgeMs: number }): Promise<void> {
    const now = this.now();
    const due: Promise<void>[] = [];
    for (const [key, entry] of [...this.entries.entries()]) {
      if (entry.kind !== 'value' || entry.input.versionId !== undefined) continue;
      if (now - entry.lastUsedAt > options.hotWindowMs || now - entry.confirmedAt < options.minAgeMs) continue;
      due.push(this.checkAndWarm(key, entry));
    }
    await Promise.all(due);
  }

  stats(): SecretCacheStats {
    return {
      ...this.counters,
      evictions: this.entries.evictions,
      entries: this.entries.size,
      bytes: this.entries.weight,
    };
  }

  /** Checks, and when the label moved fetches the new value so the next read finds it. Never rejects. */
  private async checkAndWarm(key: string, entry: ValueEntry): Promise<void> {
    try {
      if (!(await this.check(key, entry))) await this.load(key, entry.input);
    } catch {
      // Counted in the stats; the entry stays unconfirmed, so a later read waits for a new check.
    }
  }

  /**
   * Asks which version carries the entry's label. True when it is still the cached one (the entry is re-confirmed);
   * false when it moved or the secret is gone (the entry is dropped). One check per entry at a time.
   * @throws when the server cannot be asked
   */
  private check(key: string, entry: ValueEntry): Promise<boolean> {
    entry.checking ??= this.runCheck(key, entry).finally(() => {
      entry.checking = undefined;
    });
    return entry.checking;
  }

  private async runCheck(key: string, entry: ValueEntry): Promise<boolean> {
    const sentAt = this.now();
    const generation = this.generation;
    this.counters.checks++;
    let versions: Awaited<ReturnType<SecretSource['versions']>>;
    try {
      versions = await this.source.versions(entry.input.secretId);
    } catch (err) {
      // A definite answer (deleted, access revoked) ends the entry: the read that follows reports it. Only a transient
      // failure (network, 5xx, throttling) propagates, so the caller may serve the cached value meanwhile.
      if (!(err instanceof CofferClientError) || err.retryable) throw err;
      if (this.entries.peek(key) === entry) this.entries.delete(key);
      return false;
    }
    const { versionIdsToStages, deleted } = versions;
    const stage = entry.input.versionStage ?? CURRENT;
    const carrier = Object.entries(versionIdsToStages).find(([, stages]) => stages.includes(stage));
    if (generation !== this.generation || this.entries.peek(key) !== entry) return false;
    if (!deleted && carrier !== undefined && carrier[0] === entry.value.VersionId) {
      this.counters.unchanged++;
      if (!sameStages(carrier[1], entry.value.VersionStages)) {
        entry.value = { ...entry.value, VersionStages: [...carrier[1]] };
      }
      entry.confirmedAt = Math.max(entry.confirmedAt, sentAt);
      return true;
    }
    this.entries.delete(key);
    return false;
  }

  private load(key: string, input: GetSecretValueInput): Promise<GetSecretValueOutput> {
    let pending = this.inflight.get(key);
    if (pending === undefined) {
      pending = this.fetchAndStore(key, input).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  private async fetchAndStore(key: string, input: GetSecretValueInput): Promise<GetSecretValueOutput> {
    const sentAt = this.now();
    const generation = this.generation;
    this.counters.fetches++;
    try {
      const value = await this.source.fetch(input);
      if (generation === this.generation) {
        this.entries.set(key, {
          kind: 'value',
          input,
          value,
          bytes: Buffer.byteLength(JSON.stringify(value)),
          fetchedAt: sentAt,
          confirmedAt: sentAt,
          lastUsedAt: sentAt,
          checking: undefined,
        });
      }
      return value;
    } catch (err) {
      if (err instanceof CofferNotFoundError && this.negativeTtlMs > 0 && generation === this.generation) {
        this.entries.set(key, { kind: 'missing', error: err, until: sentAt + this.negativeTtlMs, bytes: 256 });
      }
      throw err;
    }
  }
}

function nonNegative(name: string, value: number): number {
  if (!(value >= 0)) throw new RangeError(`${name} must be ≥ 0`);
  return value;
}
