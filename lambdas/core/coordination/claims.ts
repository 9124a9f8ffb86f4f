import { randomBytes } from 'node:crypto';
import type { Clock } from '../ports/clock.ts';
import { type Condition, ConditionFailedError, type Store } from '../ports/store.ts';

/** The partition of claims: which node runs a job now, and until when. */
export const CLAIM_PARTITION = 'coord/claim';

/** What a claim item holds. Its expiry is the claim's own, not the store's TTL (an expired claim may still be read). */
export type ClaimRecord = {
  /** The node process holding the claim (`Claims.holder`). */
  readonly holder: string;
  /** Epoch ms after which any node may take the claim over. */
  readonly expiresAt: number;
  readonly claimedAt: number;
};

/**
 * Who runs a job when several nodes serve one store: a named claim held by one node until it expires. Expiry, not a
 * connection, ends a claim, so a node killed mid-job frees its jobs after the claim's TTL with nobody's help.
 *
 * @example
 * ```ts
 * if (await claims.claim('sweep/leases', 30_000)) await leases.sweep();
 * ```
 */
export interface Claims {
  /** This node process's id, random per process (two restarts of one node are two holders). */
  readonly holder: string;
  /**
   * Takes `name` for `ttlMs` when nobody holds it, this node holds it, or its holder let it expire.
   * @returns false when another node holds it
   */
  claim(name: string, ttlMs: number): Promise<boolean>;
  /**
   * Extends a claim this node holds. Fails when another node took it over meanwhile (this node was paused past the
   * TTL): the caller must stop the job, another node runs it now.
   */
  renew(name: string, ttlMs: number): Promise<boolean>;
  /** Gives up a claim this node holds (a no-op when it holds none). */
  release(name: string): Promise<void>;
  /** Whether another node holds `name` now (an expired claim is held by nobody). */
  heldByOther(name: string): Promise<boolean>;
}

/** A fresh holder id: 16 random bytes, hex. */
export function newHolderId(): string {
  return randomBytes(16).toString('hex');
}

/**
 * Claims over the `Store` port: a conditional put (absent, or at the revision read when the claim was free or ours),
 * so two nodes racing for one claim cannot both win on any store passing the store contract.
 */
export class StoreClaims implements Claims {
  readonly holder: string;
  readonly #store: Store;
  readonly #clock: Clock;

  constructor(options: {
    readonly store: Store;
    readonly clock: Clock;
    /** @default a random id ({@link newHolderId}) */
    readonly holder?: string;
  }) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.holder = options.holder ?? newHolderId();
  }

  async claim(name: string, ttlMs: number): Promise<boolean> {
    const current = await this.#store.get<ClaimRecord>(CLAIM_PARTITION, name);
    const now = this.#clock.now();
    if (current !== undefined && current.data.holder !== this.holder && current.data.expiresAt > now) return false;
    return this.#put(name, ttlMs, now, current === undefined ? { kind: 'absent' } : { kind: 'rev', rev: current.rev });
  }

  async renew(name: string, ttlMs: number): Promise<boolean> {
    const current = await this.#store.get<ClaimRecord>(CLAIM_PARTITION, name);
    // Expired but untaken is still ours: nobody else ran the job in between.
    if (current === undefined || current.data.holder !== this.holder) return false;
    return this.#put(name, ttlMs, this.#clock.now(), { kind: 'rev', rev: current.rev });
  }

  async release(name: string): Promise<void> {
    const current = await this.#store.get<ClaimRecord>(CLAIM_PARTITION, name);
    if (current === undefined || current.data.holder !== this.holder) return;
    try {
      await this.#store.transact([
        { type: 'delete', pk: CLAIM_PARTITION, sk: name, condition: { kind: 'rev', rev: current.rev } },
      ]);
    } catch (err) {
      // Taken over in between: it is the new holder's now.
      if (!(err instanceof ConditionFailedError)) throw err;
    }
  }

  async heldByOther(name: string): Promise<boolean> {
    const current = await this.#store.get<ClaimRecord>(CLAIM_PARTITION, name);
    return current !== undefined && current.data.holder !== this.holder && current.data.expiresAt > this.#clock.now();
  }

  async #put(name: string, ttlMs: number, now: number, condition: Condition): Promise<boolean> {
    const data: ClaimRecord = { holder: this.holder, expiresAt: now + ttlMs, claimedAt: now };
    try {
      await this.#store.transact([{ type: 'put', pk: CLAIM_PARTITION, sk: name, data: { ...data }, condition }]);
      return true;
    } catch (err) {
      if (err instanceof ConditionFailedError) return false;
      throw err;
    }
  }
}

/**
 * The claims of a node that is its store's only writer (the local SQLite node, whose data-dir lock keeps every other
 * process out): every claim is this node's, with no I/O, so a single node pays nothing for coordination.
 */
export const soleNodeClaims: Claims = {
  holder: 'sole-node',
  claim: async () => true,
  renew: async () => true,
  release: async () => undefined,
  heldByOther: async () => false,
};
