import { ConflictError, InternalError, NotFoundError, ValidationError } from '../errors.ts';
import type { Clock } from '../ports/clock.ts';
import { ConditionFailedError, type Store, type StoredItem } from '../ports/store.ts';
import { retryOnConflict } from '../retry.ts';
import { type AccessRequest, type Decision, deepFreeze, evaluate, ROOT_POLICY } from './policy-engine.ts';
import { isReservedPolicyName, PolicyNameSchema, parsePolicyDocument } from './policy-schema.ts';
import type { PolicyDocument } from './policy-types.ts';

/** The store partition holding every policy document, one item per name. */
export const POLICY_PARTITION = 'policies';

export interface PolicyServiceOptions {
  readonly store: Store;
  readonly clock: Clock;
  /**
   * How long `resolve` may serve a document without re-reading it. Writes through this service take effect at once;
   * writes by another process are seen within this delay.
   * @default 5000
   */
  readonly cacheTtlMs?: number;
}

/** Stored item payload: the document plus bookkeeping. */
interface PolicyItem extends PolicyDocument {
  [key: string]: unknown;
  createdAt: string;
  updatedAt: string;
}

interface CacheEntry {
  readonly expiresAt: number;
  /** A promise, so concurrent misses for one name share a single read. `undefined` = no such policy. */
  readonly document: Promise<PolicyDocument | undefined>;
}

const DEFAULT_CACHE_TTL_MS = 5000;
/** A crude bound: names come from tokens, so a flood of distinct names must not grow memory without limit. */
const MAX_CACHE_ENTRIES = 10_000;
const PUT_ATTEMPTS = 3;

/**
 * Stores policy documents and resolves a principal's policy names on every request, from a short-lived cache.
 * The built-in `root` policy is never stored: it cannot be written or deleted.
 */
export class PolicyService {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly cacheTtlMs: number;
  private readonly cache = new Map<string, CacheEntry>();

  constructor(options: PolicyServiceOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.cacheTtlMs = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
  }

  /**
   * Validates and creates or replaces a policy.
   * @throws ValidationError for an invalid document or the reserved name `root`.
   * @example await policies.put({ name: 'app', rules: [{ path: 'secrets/app/*', capabilities: ['read'] }] })
   */
  async put(input: unknown): Promise<PolicyDocument> {
    const document = parsePolicyDocument(input);
    await retryOnConflict(
      async () => {
        const existing = await this.store.get<PolicyItem>(POLICY_PARTITION, document.name);
        const now = new Date(this.clock.now()).toISOString();
        const item: PolicyItem = { ...document, createdAt: existing?.data.createdAt ?? now, updatedAt: now };
        await this.store.transact([
          {
            type: 'put',
            pk: POLICY_PARTITION,
            sk: document.name,
            data: item,
            // Conditional, so a concurrent writer cannot make us lose the original createdAt.
            condition: existing === undefined ? { kind: 'absent' } : { kind: 'rev', rev: existing.rev },
          },
        ]);
      },
      {
        maxAttempts: PUT_ATTEMPTS,
        onExhausted: () => new ConflictError(`policy "${document.name}" is being changed concurrently; retry`),
      },
    );
    this.cache.delete(document.name);
    return deepFreeze(document);
  }

  /**
   * @throws NotFoundError if there is no such policy.
   */
  async get(name: string): Promise<PolicyDocument> {
    checkName(name);
    if (isReservedPolicyName(name)) return ROOT_POLICY;
    const document = await this.read(name);
    if (document === undefined) throw new NotFoundError(`policy "${name}" not found`);
    return document;
  }

  /** Every policy name, `root` included, sorted. */
  async list(): Promise<string[]> {
    const names: string[] = [ROOT_POLICY.name];
    let startAfter: string | undefined;
    do {
      const page = await this.store.query(POLICY_PARTITION, { limit: 1000, ...(startAfter && { startAfter }) });
      for (const item of page.items) names.push(item.sk);
      startAfter = page.lastKey;
    } while (startAfter !== undefined);
    return [...new Set(names)].sort();
  }

  /**
   * @throws ValidationError for `root`; NotFoundError if there is no such policy.
   */
  async delete(name: string): Promise<void> {
    checkName(name);
    if (isReservedPolicyName(name)) throw new ValidationError(`policy "${name}" is built in and cannot be deleted`);
    try {
      await this.store.transact([{ type: 'delete', pk: POLICY_PARTITION, sk: name, condition: { kind: 'exists' } }]);
    } catch (err) {
      if (err instanceof ConditionFailedError) throw new NotFoundError(`policy "${name}" not found`, { cause: err });
      throw err;
    } finally {
      this.cache.delete(name);
    }
  }

  /**
   * The documents behind a principal's policy names, for evaluation on every request. Served from cache; unknown
   * names are skipped (a token may outlive a policy it names), which can only take access away. A store failure
   * rejects, so the request fails closed.
   */
  async resolve(names: readonly string[]): Promise<PolicyDocument[]> {
    const now = this.clock.now();
    const unique = [...new Set(names)];
    const documents = await Promise.all(unique.map((name) => this.cached(name, now)));
    return documents.filter((document): document is PolicyDocument => document !== undefined);
  }

  /**
   * The names among `names` that no stored policy has (`root` always exists), sorted. Read from the store, not the
   * cache, so a policy deleted a moment ago by another process counts as missing.
   * @throws ValidationError for an invalid policy name.
   * @example await policies.missing(['app', 'typo']) // ['typo']
   */
  async missing(names: readonly string[]): Promise<string[]> {
    const unique = [...new Set(names)].filter((name) => !isReservedPolicyName(name));
    for (const name of unique) checkName(name);
    const found = await Promise.all(unique.map((name) => this.store.get<PolicyItem>(POLICY_PARTITION, name)));
    return unique.filter((_, i) => found[i] === undefined).sort();
  }

  /** Explains how `names` would decide `request`; backs `coffer policy test`. */
  async test(request: AccessRequest, names: readonly string[]): Promise<Decision> {
    return evaluate(await this.resolve(names), request);
  }

  /** Drops every cached document, e.g. when another process reports a policy change. */
  invalidate(): void {
    this.cache.clear();
  }

  private cached(name: string, now: number): Promise<PolicyDocument | undefined> {
    if (isReservedPolicyName(name)) return Promise.resolve(ROOT_POLICY);
    if (!PolicyNameSchema.safeParse(name).success) return Promise.resolve(undefined);
    const hit = this.cache.get(name);
    if (hit !== undefined && now < hit.expiresAt) return hit.document;
    if (this.cache.size >= MAX_CACHE_ENTRIES) this.cache.clear();
    const entry: CacheEntry = { expiresAt: now + this.cacheTtlMs, document: this.read(name) };
    this.cache.set(name, entry);
    // A failed read must not be cached: the next request retries.
    entry.document.catch(() => {
      if (this.cache.get(name) === entry) this.cache.delete(name);
    });
    return entry.document;
  }

  private async read(name: string): Promise<PolicyDocument | undefined> {
    const item = await this.store.get<PolicyItem>(POLICY_PARTITION, name);
    return item === undefined ? undefined : toDocument(item);
  }
}

function checkName(name: string): void {
  if (!PolicyNameSchema.safeParse(name).success) {
    throw new ValidationError(`invalid policy name ${JSON.stringify(name.slice(0, 140))}`);
  }
}

function toDocument(item: StoredItem<PolicyItem>): PolicyDocument {
  const { createdAt: _createdAt, updatedAt: _updatedAt, ...document } = item.data;
  try {
    // Frozen, because the engine caches its compiled form per document object.
    return deepFreeze(parsePolicyDocument(document));
  } catch (err) {
    throw new InternalError(`stored policy "${item.sk}" is invalid`, { cause: err });
  }
}
