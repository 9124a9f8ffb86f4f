import pg from 'pg';
import { StorageUnavailableError } from '../../../core/errors.ts';
import {
  type Condition,
  ConditionFailedError,
  type ItemData,
  type Page,
  type QueryOptions,
  type Store,
  type StoredItem,
  type WriteOp,
} from '../../../core/ports/store.ts';
import { compareKeys, holds, prefixUpperBound, validateOps } from '../../../core/ports/store-rules.ts';

/** Options of {@link PostgresStore.open}. */
export interface PostgresStoreOptions {
  /** A `postgres://user[:password]@host[:port]/database[?sslmode=…]` URL. */
  readonly url: string;
  /** The password, when it is not in the URL (a mounted file, `PGPASSWORD`); refused when the URL has one too. */
  readonly password?: string | undefined;
  /** Sessions the node keeps open at most. @default 10 */
  readonly maxConnections?: number;
  /** Bounds on connecting and on any one statement. @default 5 s and 15 s */
  readonly connectTimeoutMs?: number;
  readonly statementTimeoutMs?: number;
  /**
   * Waits between retries of a transaction PostgreSQL aborted to keep writers serialisable (SQLSTATE 40001, 40P01).
   * Tests make it 0. @default jittered, 2 ms doubling to 100 ms
   */
  readonly retryDelayMs?: (attempt: number) => number;
}

/** The schema this code writes; `coffer_schema` records it so a later version can migrate an older store. */
export const SCHEMA_VERSION = 1;

const DEFAULT_QUERY_LIMIT = 100;
const MAX_QUERY_LIMIT = 1_000;
/** Serialisation conflicts are retried this often before the caller hears 503 (contention this high is a fault). */
const MAX_ATTEMPTS = 30;
/** An arbitrary constant: the advisory lock under which nodes create or migrate the schema one at a time. */
const SCHEMA_LOCK = 0x636f6666;

interface ItemRow {
  readonly sk: string;
  readonly rev: string;
  readonly data: string;
  readonly expires_at: string | null;
}

/**
 * The shared `Store` of several local nodes (docs/ha.md): one PostgreSQL table, every node a client of it.
 *
 * Keys are `COLLATE "C"`, so sort keys order by their UTF-8 bytes as DynamoDB and SQLite order them. Data is kept as
 * the JSON text the caller's object serialises to, not `jsonb`: `jsonb` refuses `\u0000` in strings and reorders keys,
 * and the store only ever hands the object back.
 *
 * Transactions run at SERIALIZABLE: each checks its conditions with plain reads and then writes, and PostgreSQL aborts
 * one of any two that could not have run one after the other (a conditional write racing another node's, an `absent`
 * check racing an insert), which this adapter retries from the start, conditions included. So two nodes can never
 * both win a condition, whatever the item's state. A commit is acknowledged only once PostgreSQL has made it durable
 * (`synchronous_commit = on` for every session, whatever the server's default).
 *
 * A lost connection or an unreachable server is `StorageUnavailableError` (503, try again), never a guess: when the
 * connection drops while COMMIT is in flight the outcome is unknown, so the caller is told the write may not have been
 * applied rather than either answer.
 *
 * @example
 * const store = await PostgresStore.open({ url: 'postgres://coffer@db:5432/coffer', password });
 * await store.transact([{ type: 'put', pk: 'secret#db', sk: 'meta', data: { name: 'db' }, condition: { kind: 'absent' } }]);
 * await store.close();
 */
export class PostgresStore implements Store {
  #closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly retryDelayMs: (attempt: number) => number,
  ) {}

  /**
   * Connects, and creates the table (or checks its version) under an advisory lock, so nodes starting together do
   * not race on the DDL.
   * @throws StorageUnavailableError when the server cannot be reached or refuses the login
   * @throws Error when the store was written by a newer schema than this code knows
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const statementMs = options.statementTimeoutMs ?? 15_000;
    const pool = new pg.Pool({
      connectionString: withPassword(options.url, options.password),
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      statement_timeout: statementMs,
      // A node that stalls mid-transaction must not hold row locks every other node waits on.
      idle_in_transaction_session_timeout: statementMs,
      query_timeout: statementMs + 5_000,
      // The acknowledgement of a write is its durable commit, whatever the server's or the role's default says.
      options: '-c synchronous_commit=on -c client_encoding=UTF8',
      application_name: 'coffer store',
    });
    // A pooled session the server ends (restart, failover) leaves the pool; without a listener it would crash the node.
    pool.on('error', () => {});
    const store = new PostgresStore(pool, options.retryDelayMs ?? defaultRetryDelay);
    try {
      await store.#createSchema();
    } catch (error) {
      await pool.end().catch(() => {});
      throw error;
    }
    return store;
  }

  async get<T extends ItemData = ItemData>(pk: string, sk: string): Promise<StoredItem<T> | undefined> {
    this.#assertOpen();
    const { rows } = await this.#run((client) =>
      client.query<ItemRow>('SELECT sk, rev, data, expires_at FROM coffer_items WHERE pk = $1 AND sk = $2', [pk, sk]),
    );
    return rows[0] === undefined ? undefined : toItem<T>(pk, rows[0]);
  }

  async query<T extends ItemData = ItemData>(pk: string, options: QueryOptions = {}): Promise<Page<T>> {
    this.#assertOpen();
    const requested = Number.isFinite(options.limit) ? options.limit! : DEFAULT_QUERY_LIMIT;
    const limit = Math.trunc(Math.min(Math.max(requested, 1), MAX_QUERY_LIMIT));
    const clauses = ['pk = $1'];
    const params: (string | number)[] = [pk];
    const bind = (value: string | number) => {
      params.push(value);
      return `$${params.length}`;
    };
    // One lower and one upper bound keep the scan a range of the primary key's index.
    const prefix = options.prefix === '' ? undefined : options.prefix;
    const startAfter = options.startAfter;
    if (startAfter !== undefined && (prefix === undefined || compareKeys(startAfter, prefix) >= 0)) {
      clauses.push(`sk > ${bind(startAfter)}`);
    } else if (prefix !== undefined) {
      clauses.push(`sk >= ${bind(prefix)}`);
    }
    const upper = prefix === undefined ? undefined : prefixUpperBound(prefix);
    if (upper !== undefined) clauses.push(`sk < ${bind(upper)}`);
    // One extra row tells whether another page exists, so the last page carries no lastKey.
    const sql = `SELECT sk, rev, data, expires_at FROM coffer_items WHERE ${clauses.join(' AND ')} ORDER BY sk LIMIT ${bind(limit + 1)}`;
    const { rows } = await this.#run((client) => client.query<ItemRow>(sql, params));
    const items = rows.slice(0, limit).map((row) => toItem<T>(pk, row));
    return rows.length > limit ? { items, lastKey: items[items.length - 1]!.sk } : { items };
  }

  async transact(ops: readonly WriteOp[]): Promise<void> {
    this.#assertOpen();
    validateOps(ops);
    // Captured now: the caller may change its objects while a retry waits.
    const prepared = ops.map((op) => ({
      type: op.type,
      pk: op.pk,
      sk: op.sk,
      json: op.type === 'put' ? JSON.stringify(op.data) : undefined,
      expiresAt: op.type === 'put' ? (op.expiresAt ?? null) : null,
      condition: op.condition === undefined ? undefined : ({ ...op.condition } as Condition),
    }));
    for (let attempt = 1; ; attempt++) {
      const client = await this.#connect();
      let committing = false;
      try {
        await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
        for (const [index, op] of prepared.entries()) {
          if (op.condition === undefined) continue;
          const { rows } = await client.query<{ rev: string }>(
            'SELECT rev FROM coffer_items WHERE pk = $1 AND sk = $2',
            [op.pk, op.sk],
          );
          const current =
            rows[0] === undefined ? undefined : { pk: op.pk, sk: op.sk, rev: Number(rows[0].rev), data: {} };
          if (!holds(op.condition, current)) throw new ConditionFailedError(index, op.pk, op.sk);
        }
        for (const op of prepared) {
          if (op.type === 'put') {
            await client.query(
              `INSERT INTO coffer_items (pk, sk, rev, data, expires_at) VALUES ($1, $2, 1, $3, $4)
               ON CONFLICT (pk, sk) DO UPDATE SET rev = coffer_items.rev + 1, data = excluded.data,
               expires_at = excluded.expires_at`,
              [op.pk, op.sk, op.json, op.expiresAt],
            );
          } else if (op.type === 'delete') {
            await client.query('DELETE FROM coffer_items WHERE pk = $1 AND sk = $2', [op.pk, op.sk]);
          }
        }
        committing = true;
        await client.query('COMMIT');
        client.release();
        return;
      } catch (error) {
        const broken = isConnectionFailure(error);
        if (!broken) await client.query('ROLLBACK').catch(() => {});
        client.release(broken ? asError(error) : undefined);
        // A ConditionFailedError from a snapshot that a concurrent commit makes stale is still right to report:
        // SERIALIZABLE orders this transaction before that commit, where the condition did fail.
        if (error instanceof ConditionFailedError) throw error;
        if (isSerialisationFailure(error) && attempt < MAX_ATTEMPTS) {
          await sleep(this.retryDelayMs(attempt));
          continue;
        }
        // Nothing was sent past BEGIN's rollback: the transaction is safe to start again on a fresh session.
        if (broken && !committing && attempt < 3) continue;
        if (!broken && !isUnavailable(error)) throw error;
        throw unavailable(
          error,
          committing
            ? 'the connection to the store was lost while committing; the change may or may not have been applied'
            : 'the change was not applied',
        );
      }
    }
  }

  /** Ends every session. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('PostgresStore is closed');
  }

  async #connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw unavailable(error, 'nothing was read or written');
    }
  }

  /**
   * Reads on a pooled session; a failure of the server or the network is the typed 503. A session that turns out dead
   * (the server restarted since it was pooled) is dropped and the read made once more on a fresh one.
   */
  async #run<R>(work: (client: pg.PoolClient) => Promise<R>): Promise<R> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.#connect();
      try {
        const result = await work(client);
        client.release();
        return result;
      } catch (error) {
        const broken = isConnectionFailure(error);
        client.release(broken ? asError(error) : undefined);
        if (broken && attempt < 2) continue;
        if (broken || isUnavailable(error)) throw unavailable(error, 'nothing was read or written');
        throw error;
      }
    }
  }

  async #createSchema(): Promise<void> {
    await this.#run(async (client) => {
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
        await client.query(
          `CREATE TABLE IF NOT EXISTS coffer_schema (
             singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
             version integer NOT NULL
           )`,
        );
        await client.query(
          `CREATE TABLE IF NOT EXISTS coffer_items (
             pk text COLLATE "C" NOT NULL,
             sk text COLLATE "C" NOT NULL,
             rev bigint NOT NULL,
             data text NOT NULL,
             expires_at bigint NULL,
             PRIMARY KEY (pk, sk)
           )`,
        );
        await client.query('INSERT INTO coffer_schema (version) VALUES ($1) ON CONFLICT (singleton) DO NOTHING', [
          SCHEMA_VERSION,
        ]);
        const { rows } = await client.query<{ version: number }>('SELECT version FROM coffer_schema');
        const version = rows[0]!.version;
        if (version > SCHEMA_VERSION) {
          throw new Error(
            `the store's schema is version ${version}, newer than this Coffer knows (${SCHEMA_VERSION}): upgrade the node`,
          );
        }
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    });
  }
}

/** The URL with the password put in it (percent-encoded); the URL's own password and another are a contradiction. */
function withPassword(url: string, password: string | undefined): string {
  if (password === undefined) return url;
  const parsed = new URL(url);
  if (parsed.password !== '') {
    throw new Error('the store URL carries a password and another was given: keep one (a password file is safer)');
  }
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

function toItem<T extends ItemData>(pk: string, row: ItemRow): StoredItem<T> {
  const item = { pk, sk: row.sk, rev: Number(row.rev), data: JSON.parse(row.data) as T };
  return row.expires_at === null ? item : { ...item, expiresAt: Number(row.expires_at) };
}

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** PostgreSQL aborted the transaction to keep it serialisable, or to break a deadlock: running it again is right. */
function isSerialisationFailure(error: unknown): boolean {
  const state = sqlState(error);
  return state === '40001' || state === '40P01';
}

/**
 * The session is gone or unusable: a socket error, pg's own timeouts and "Connection terminated" (which carry no
 * SQLSTATE), or the server's connection-exception and operator-intervention classes (shutdown, too many clients).
 */
function isConnectionFailure(error: unknown): boolean {
  const state = sqlState(error);
  if (state !== undefined) return state.startsWith('08') || state.startsWith('57P') || state === '53300';
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return true;
  const message = error instanceof Error ? error.message : '';
  return /connection terminated|connection error|not queryable|timeout/i.test(message);
}

/** A server that is up but cannot serve now: out of resources, a statement or lock timeout, read-only (a standby). */
function isUnavailable(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && (state.startsWith('53') || state === '57014' || state === '55P03' || state === '25006');
}

/** The typed 503. Its message names the failure by code, never by the server's text (which can quote the URL). */
function unavailable(error: unknown, outcome: string): StorageUnavailableError {
  const state = sqlState(error);
  const code = state ?? (error as { code?: unknown } | undefined)?.code;
  const reason = typeof code === 'string' ? code : error instanceof Error ? error.name : 'error';
  return new StorageUnavailableError(`the PostgreSQL store is unavailable (${reason}); ${outcome}`, { cause: error });
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function defaultRetryDelay(attempt: number): number {
  return Math.random() * Math.min(100, 2 ** attempt);
}

function sleep(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}
