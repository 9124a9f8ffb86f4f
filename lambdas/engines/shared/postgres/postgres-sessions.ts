import { createHash, randomUUID } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import type pg from 'pg';
import type { EgressGuard } from '../../../core/egress/egress-policy.ts';
import { guardedStream } from '../guarded-socket.ts';

/** Where a session logs in. */
export interface PostgresEndpoint {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  readonly ssl?: boolean | ConnectionOptions | undefined;
}

/** Bounds on every session, so a target that stalls fails a step or a lease instead of hanging it. */
export interface PostgresTimeouts {
  /** A target that does not answer the connection attempt. */
  readonly connectMs: number;
  /** Any one statement (`statement_timeout`, enforced by the server). */
  readonly statementMs: number;
  /** Waiting for a lock (`lock_timeout`): a busy catalog ends the statement rather than queueing behind it. */
  readonly lockMs: number;
  /** Pooled sessions left idle this long are closed. */
  readonly idleMs: number;
}

export const DEFAULT_POSTGRES_TIMEOUTS: PostgresTimeouts = {
  connectMs: 5000,
  statementMs: 30_000,
  lockMs: 10_000,
  idleMs: 10_000,
};

type Pg = typeof import('pg').default;
let pgModule: Promise<Pg> | undefined;

/**
 * `pg` is loaded when the first session is made, not when the broker starts: most brokers never reach PostgreSQL, and
 * loading it costs several percent of the broker Lambda's cold import (docs/BENCHMARKS.md, issue 15). SQL is quoted
 * without it (`sql-escape.ts`). A failed load is not kept, so the next session tries again.
 */
function loadPg(): Promise<Pg> {
  pgModule ??= import('pg').then(
    (module) => module.default,
    (err: unknown) => {
      pgModule = undefined;
      throw err;
    },
  );
  return pgModule;
}

/** Pools kept at once; the least recently used is ended beyond this (credentials rotate, targets come and go). */
const DEFAULT_MAX_POOLS = 32;

export interface PostgresSessionsOptions {
  /** @default {@link DEFAULT_POSTGRES_TIMEOUTS} */
  readonly timeouts?: Partial<PostgresTimeouts>;
  /** @default 32 */
  readonly maxPools?: number;
}

/**
 * The one way Coffer's engines reach PostgreSQL (dynamic credentials and rotation): every session dials through the
 * egress guard and carries the same timeouts, and every pool belongs to one instance that the composition root
 * creates and closes (no pool outlives its node, none is shared between nodes in one process).
 *
 * Pools are keyed by the whole endpoint, password included, and by the guard: a rotated credential gets a fresh
 * pool, and a pool made under one allow-list is never reused under another.
 */
export class PostgresSessions {
  readonly timeouts: PostgresTimeouts;
  readonly #maxPools: number;
  readonly #pools = new Map<string, pg.Pool>();
  readonly #guardIds = new WeakMap<EgressGuard, string>();
  #closed = false;

  constructor(options: PostgresSessionsOptions = {}) {
    this.timeouts = { ...DEFAULT_POSTGRES_TIMEOUTS, ...options.timeouts };
    this.#maxPools = options.maxPools ?? DEFAULT_MAX_POOLS;
  }

  /**
   * A new session, not yet connected; the caller connects and ends it. A session the server ends (terminate,
   * restart) never crashes the process: its next query fails.
   * @param purpose names the connection in egress refusals and `application_name`, e.g. `postgres rotation target`
   */
  async client(
    egress: EgressGuard,
    endpoint: PostgresEndpoint,
    purpose: string,
    connectMs?: number,
  ): Promise<pg.Client> {
    const { Client } = await loadPg();
    const client = new Client(this.#config(egress, endpoint, purpose, connectMs));
    client.on('error', () => {});
    return client;
  }

  /**
   * The pool of `endpoint` for `purpose`, made on first use (most recently used last; the oldest beyond `maxPools`
   * is ended).
   * @throws Error when the sessions were closed
   */
  async pool(
    egress: EgressGuard,
    endpoint: PostgresEndpoint,
    purpose: string,
    options: { readonly max: number; readonly connectMs?: number },
  ): Promise<pg.Pool> {
    // Loaded before anything is looked up: from here on nothing awaits, so two callers cannot both make one pool.
    const { Pool } = await loadPg();
    if (this.#closed) throw new Error('Cannot use a pool after calling end');
    const key = createHash('sha256')
      .update(JSON.stringify([purpose, endpoint.host, endpoint.port, endpoint.database, endpoint.user]))
      .update(endpoint.password)
      .update(JSON.stringify(endpoint.ssl ?? null))
      .update(String(options.max))
      .update(this.#guardId(egress))
      .digest('hex');
    const existing = this.#pools.get(key);
    if (existing !== undefined) {
      this.#pools.delete(key);
      this.#pools.set(key, existing);
      return existing;
    }
    const pool = new Pool({
      ...this.#config(egress, endpoint, purpose, options.connectMs),
      max: options.max,
      idleTimeoutMillis: this.timeouts.idleMs,
      allowExitOnIdle: true,
    });
    // An idle session ended by the server leaves the pool; the next checkout logs in again.
    pool.on('error', () => {});
    this.#pools.set(key, pool);
    if (this.#pools.size > this.#maxPools) {
      const [oldest, old] = this.#pools.entries().next().value!;
      this.#pools.delete(oldest);
      void old.end().catch(() => {});
    }
    return pool;
  }

  /** Pools currently kept (for tests and metrics). */
  get poolCount(): number {
    return this.#pools.size;
  }

  /** Ends every pooled session; later `pool` calls fail (node shutdown). */
  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.allSettled(pools.map((pool) => pool.end()));
  }

  #config(egress: EgressGuard, endpoint: PostgresEndpoint, purpose: string, connectMs?: number): pg.ClientConfig {
    return {
      stream: guardedStream(egress, purpose),
      host: endpoint.host,
      port: endpoint.port,
      database: endpoint.database,
      user: endpoint.user,
      password: endpoint.password,
      ...(endpoint.ssl !== undefined && { ssl: endpoint.ssl }),
      connectionTimeoutMillis: connectMs ?? this.timeouts.connectMs,
      statement_timeout: this.timeouts.statementMs,
      lock_timeout: this.timeouts.lockMs,
      // The client gives up a little after the server would have cancelled the statement (a dead connection).
      query_timeout: this.timeouts.statementMs + 5000,
      application_name: `coffer ${purpose}`.slice(0, 63),
    };
  }

  #guardId(egress: EgressGuard): string {
    let id = this.#guardIds.get(egress);
    if (id === undefined) {
      id = randomUUID();
      this.#guardIds.set(egress, id);
    }
    return id;
  }
}
