import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StorageUnavailableError } from '../../../core/errors.ts';
import { GroupCommit } from '../../../core/group-commit.ts';
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

// The SQLite store's tests import the bound from here, where it was first written.
export { prefixUpperBound };

/** Options of {@link SqliteStore.open}. */
export interface SqliteStoreOptions {
  /** Path of the database file. Its parent directory is created (mode 0700) if missing. */
  readonly path: string;
  /**
   * Commit the transactions issued in the same event-loop tick together, in one SQLite transaction, so a burst of
   * writes costs one fsync instead of one each. Every caller still gets its own all-or-nothing outcome.
   * @default true
   */
  readonly groupCommit?: boolean;
  /**
   * Makes the write-ahead log durable after a commit; the default is `fdatasync` of the `-wal` file on libuv's thread
   * pool. Tests replace it to hold a sync open or make it fail. Unused where SQLite syncs itself (macOS, below).
   */
  readonly syncWal?: (() => Promise<void>) | undefined;
}

/** At most this many `transact` calls share one commit, so one burst cannot stall the event loop for long. */
const MAX_GROUP_SIZE = 256;

/** How long a writer waits for another process's lock before giving up. */
const BUSY_TIMEOUT_MS = 5_000;

const DEFAULT_QUERY_LIMIT = 100;
const MAX_QUERY_LIMIT = 1_000;

/** A write operation captured at call time, so later mutation of the caller's objects cannot change it. */
interface PreparedOp {
  readonly type: WriteOp['type'];
  readonly pk: string;
  readonly sk: string;
  readonly json: string | undefined;
  readonly expiresAt: number | null;
  readonly condition: Condition | undefined;
}

interface ItemRow {
  readonly sk: string;
  readonly rev: number;
  readonly data: string;
  readonly expires_at: number | null;
}

/**
 * A rowid table with the (pk, sk) key in its own index, not a WITHOUT ROWID table: there every interior page of the
 * one B-tree holds whole rows, and our rows (a secret's record, a sealed version: 1–2 KiB) fill a page with three or
 * four, so the tree grew a level every few-fold more items and each level read overflow pages past SQLite's cache.
 * At 110,000 items a point read cost 3–4× the CPU of the same read here (docs/BENCHMARKS.md, 2026-12-07).
 */
const columns = (table: string) => `
  CREATE TABLE ${table} (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    rev INTEGER NOT NULL,
    data TEXT NOT NULL,
    expires_at INTEGER NULL,
    PRIMARY KEY (pk, sk)
  )
`;

/**
 * The single-node `Store`: one SQLite file in WAL mode, the log synced to disk after every commit and before any
 * caller hears of it.
 *
 * Sort keys order byte-wise because SQLite's BINARY collation compares the UTF-8 bytes, which is DynamoDB's order
 * too. Writes are durable before `transact` resolves; with group commit, concurrent callers share that sync.
 *
 * The sync runs off the event loop. With `synchronous = FULL` SQLite would fsync inside `COMMIT`, and better-sqlite3
 * runs `COMMIT` on the main thread, so every write stalled every request for a disk flush (a quarter to a half of
 * the server's time under PKI and rotation load, docs/BENCHMARKS.md). So SQLite runs at `NORMAL`, where a WAL commit
 * only writes its frames, and the store `fdatasync`s the `-wal` file itself on the thread pool before resolving: the
 * same frames on disk before the acknowledgement as FULL gives. Until then a read of a partition the batch wrote
 * waits for the sync, so nothing a caller reads can be lost to a power cut; a failed sync fails the store closed.
 *
 * @example
 * const store = SqliteStore.open({ path: '/var/lib/coffer/store.db' });
 * await store.transact([{ type: 'put', pk: 'secret#db', sk: 'meta', data: { name: 'db' }, condition: { kind: 'absent' } }]);
 * const item = await store.get('secret#db', 'meta');
 * await store.close();
 */
export class SqliteStore implements Store {
  private readonly statements = new Map<string, Database.Statement>();
  private closed = false;
  /**
   * Transactions of one event-loop turn commit together, one savepoint each, sharing one fsync. Without group commit
   * each transaction commits alone, at once.
   */
  private readonly commits: GroupCommit<readonly PreparedOp[]>;
  /** The batch whose commit is written but not yet synced: the partitions it wrote, and when they are durable. */
  private syncing: { readonly pks: ReadonlySet<string>; readonly done: Promise<void> } | undefined;
  /** Set once a sync has failed: what is in the file may not be on disk, so nothing is served from it any more. */
  private failed: StorageUnavailableError | undefined;

  private constructor(
    private readonly db: Database.Database,
    groupCommit: boolean,
    /** Undefined where SQLite syncs inside `COMMIT` itself. */
    private readonly syncWal: (() => Promise<void>) | undefined,
    private readonly walFd: number | undefined,
  ) {
    this.commits = new GroupCommit({
      maxBatch: groupCommit ? MAX_GROUP_SIZE : 1,
      schedule: groupCommit ? 'nextTurn' : 'now',
      commit: async (group) => this.commitAndSync(group),
    });
  }

  /**
   * Opens (creating if needed) the database at `options.path`.
   *
   * @example
   * const store = SqliteStore.open({ path: './data/store.db', groupCommit: true });
   */
  static open(options: SqliteStoreOptions): SqliteStore {
    const file = path.resolve(options.path);
    const dir = path.dirname(file);
    if (!fs.existsSync(dir)) {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      // The umask may have widened or narrowed the mode; the store holds ciphertext and metadata only we may read.
      fs.chmodSync(dir, 0o700);
    }
    // Create the file ourselves so it is never, even briefly, readable by others; SQLite gives -wal/-shm the same mode.
    fs.closeSync(fs.openSync(file, 'a', 0o600));
    fs.chmodSync(file, 0o600);

    const db = new Database(file);
    let walFd: number | undefined;
    let selfSync = false;
    try {
      // Where WAL cannot be had (a filesystem without shared memory) SQLite keeps its rollback journal, and on macOS
      // only F_FULLFSYNC reaches the platter and Node cannot issue it: in both cases SQLite keeps syncing itself.
      selfSync = db.pragma('journal_mode = WAL', { simple: true }) === 'wal' && process.platform !== 'darwin';
      // NORMAL: a commit writes its WAL frames without a sync; `commitAndSync` syncs them before anyone is answered,
      // so an acknowledged write survives power loss, not just a process crash. Checkpoints still sync as FULL's do.
      db.pragma(`synchronous = ${selfSync ? 'NORMAL' : 'FULL'}`);
      // Only macOS honours these; there a plain fsync does not reach the platter.
      db.pragma('fullfsync = ON');
      db.pragma('checkpoint_fullfsync = ON');
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      createOrMigrate(db);
      if (selfSync && options.syncWal === undefined) {
        // The first read transaction created the -wal file; it lives (same inode, reset in place after checkpoints)
        // until the last connection closes, and ours stays open until `close`.
        db.prepare('SELECT 1 FROM items LIMIT 1').get();
        walFd = fs.openSync(`${file}-wal`, 'r');
        // The log's directory entry must be durable too before the first commit that relies on the file.
        syncDirectory(dir);
      }
    } catch (error) {
      if (walFd !== undefined) fs.closeSync(walFd);
      db.close();
      throw error;
    }
    for (const suffix of ['-wal', '-shm']) {
      if (fs.existsSync(file + suffix)) fs.chmodSync(file + suffix, 0o600);
    }
    const fd = walFd;
    const syncWal = !selfSync ? undefined : (options.syncWal ?? (() => fdatasync(fd!)));
    return new SqliteStore(db, options.groupCommit ?? true, syncWal, walFd);
  }

  async get<T extends ItemData = ItemData>(pk: string, sk: string): Promise<StoredItem<T> | undefined> {
    this.assertOpen();
    if (this.syncing?.pks.has(pk)) await this.durable();
    const row = this.statement('SELECT sk, rev, data, expires_at FROM items WHERE pk = ? AND sk = ?').get(pk, sk) as
      | ItemRow
      | undefined;
    return row === undefined ? undefined : toItem<T>(pk, row);
  }

  async query<T extends ItemData = ItemData>(pk: string, options: QueryOptions = {}): Promise<Page<T>> {
    this.assertOpen();
    if (this.syncing?.pks.has(pk)) await this.durable();
    const requested = Number.isFinite(options.limit) ? options.limit! : DEFAULT_QUERY_LIMIT;
    const limit = Math.trunc(Math.min(Math.max(requested, 1), MAX_QUERY_LIMIT));
    const clauses = ['pk = ?'];
    const params: (string | number)[] = [pk];

    // One lower bound (the tighter of prefix and startAfter) and one upper bound keep the scan a pure index range.
    const prefix = options.prefix === '' ? undefined : options.prefix;
    const startAfter = options.startAfter;
    if (startAfter !== undefined && (prefix === undefined || compareKeys(startAfter, prefix) >= 0)) {
      clauses.push('sk > ?');
      params.push(startAfter);
    } else if (prefix !== undefined) {
      clauses.push('sk >= ?');
      params.push(prefix);
    }
    const upper = prefix === undefined ? undefined : prefixUpperBound(prefix);
    if (upper !== undefined) {
      clauses.push('sk < ?');
      params.push(upper);
    }

    // One extra row tells whether another page exists, so the last page carries no lastKey.
    const sql = `SELECT sk, rev, data, expires_at FROM items WHERE ${clauses.join(' AND ')} ORDER BY sk LIMIT ?`;
    const rows = this.statement(sql).all(...params, limit + 1) as ItemRow[];
    const items = rows.slice(0, limit).map((row) => toItem<T>(pk, row));
    return rows.length > limit ? { items, lastKey: items[items.length - 1]!.sk } : { items };
  }

  async transact(ops: readonly WriteOp[]): Promise<void> {
    this.assertOpen();
    validateOps(ops);
    return this.commits.add(ops.map(prepareOp));
  }

  /** Commits every queued transaction, then closes the database. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.commits.close();
    if (this.walFd !== undefined) fs.closeSync(this.walFd);
    this.db.close();
  }

  /**
   * Runs SQLite's `PRAGMA integrity_check`; returns `'ok'` for a sound database, otherwise the problems found.
   *
   * @example
   * if (store.checkIntegrity() !== 'ok') throw new Error('store is corrupt');
   */
  checkIntegrity(): string {
    this.assertOpen();
    const rows = this.db.pragma('integrity_check', { simple: false }) as { integrity_check: string }[];
    return rows.map((row) => row.integrity_check).join('\n');
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('SqliteStore is closed');
    if (this.failed !== undefined) throw this.failed;
  }

  /** Waits for the batch being synced; a read after a failed sync fails with the store. */
  private async durable(): Promise<void> {
    await this.syncing?.done.catch(() => undefined);
    if (this.failed !== undefined) throw this.failed;
  }

  /**
   * Commits a group, then syncs the log before any caller of it is answered. Flushes run one at a time, so the next
   * group queues (and grows) while this one's sync is on the thread pool.
   */
  private async commitAndSync(group: readonly (readonly PreparedOp[])[]): Promise<unknown[]> {
    if (this.failed !== undefined) throw this.failed;
    const outcomes = this.commitGroup(group);
    if (this.syncWal === undefined) return outcomes;
    const pks = new Set<string>();
    group.forEach((ops, index) => {
      if (outcomes[index] === undefined) for (const op of ops) pks.add(op.pk);
    });
    if (pks.size === 0) return outcomes;
    const done = this.syncWal();
    this.syncing = { pks, done };
    try {
      await done;
    } catch (error) {
      // Committed in the file but perhaps not on disk, and after a failed fsync the kernel may already have marked
      // the pages clean, so a retry proves nothing. Like PostgreSQL after a failed fsync, stop: only a restart, which
      // reads back what the disk kept, is sound.
      this.failed = new StorageUnavailableError(
        'the store could not make its writes durable (the disk failed a sync); restart the server once the disk is sound',
        { cause: error },
      );
      throw this.failed;
    } finally {
      this.syncing = undefined;
    }
    return outcomes;
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /**
   * Commits a group of transactions in one SQLite transaction, one savepoint per caller.
   * @returns per transaction: `undefined` when applied, or why it was not (a failed condition)
   */
  private commitGroup(group: readonly (readonly PreparedOp[])[]): unknown[] {
    const outcomes: unknown[] = [];
    try {
      this.db.exec('BEGIN IMMEDIATE');
      for (const ops of group) {
        this.db.exec('SAVEPOINT caller');
        try {
          this.apply(ops);
          this.db.exec('RELEASE caller');
          outcomes.push(undefined);
        } catch (error) {
          try {
            this.db.exec('ROLLBACK TO caller');
            this.db.exec('RELEASE caller');
          } catch {
            // SQLite already aborted the whole transaction (SQLITE_FULL does): the outer handler fails everyone, with
            // this cause rather than the rollback's, so a full disk is still told apart from a bug.
            throw error;
          }
          outcomes.push(unwritable(error) ?? error);
        }
      }
      this.db.exec('COMMIT');
    } catch (error) {
      if (this.db.inTransaction) {
        try {
          this.db.exec('ROLLBACK');
        } catch {
          // The transaction is already gone; nothing was committed either way.
        }
      }
      throw unwritable(error) ?? new Error('store write failed; the transaction was not applied', { cause: error });
    }
    return outcomes;
  }

  /** Applies one caller's operations inside the current savepoint; throws without writing if a condition fails. */
  private apply(ops: readonly PreparedOp[]): void {
    const revOf = this.statement('SELECT rev FROM items WHERE pk = ? AND sk = ?');
    ops.forEach((op, index) => {
      if (op.condition === undefined) return;
      const row = revOf.get(op.pk, op.sk) as { rev: number } | undefined;
      const current = row === undefined ? undefined : { pk: op.pk, sk: op.sk, rev: row.rev, data: {} };
      if (!holds(op.condition, current)) throw new ConditionFailedError(index, op.pk, op.sk);
    });
    const put = this.statement(
      `INSERT INTO items (pk, sk, rev, data, expires_at) VALUES (?, ?, 1, ?, ?)
       ON CONFLICT (pk, sk) DO UPDATE SET rev = rev + 1, data = excluded.data, expires_at = excluded.expires_at`,
    );
    const remove = this.statement('DELETE FROM items WHERE pk = ? AND sk = ?');
    for (const op of ops) {
      if (op.type === 'put') put.run(op.pk, op.sk, op.json, op.expiresAt);
      else if (op.type === 'delete') remove.run(op.pk, op.sk);
    }
  }
}

/**
 * Creates the items table, or moves a store written before the rowid table into one: in a single transaction, so a
 * crash part-way leaves the old table whole and the next open starts again. Copies in key order, so the new table and
 * its index are filled densely. Runs once per store and costs a pass over it (seconds per GiB); a second process
 * opening the store meanwhile waits for the write lock, then finds the work done.
 */
function createOrMigrate(db: Database.Database): void {
  const schemaOf = () =>
    (
      db.prepare(`SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'items'`).get() as
        | { sql: string }
        | undefined
    )?.sql;
  const current = (sql: string | undefined) => sql !== undefined && !/WITHOUT\s+ROWID/i.test(sql);
  // Read without a lock first: the common open takes no write lock.
  if (current(schemaOf())) return;
  let moved = false;
  try {
    db.transaction(() => {
      const sql = schemaOf();
      if (current(sql)) return;
      if (sql === undefined) {
        db.exec(columns('items'));
        return;
      }
      db.exec('DROP TABLE IF EXISTS items_next');
      db.exec(columns('items_next'));
      db.exec(
        'INSERT INTO items_next (pk, sk, rev, data, expires_at) SELECT pk, sk, rev, data, expires_at FROM items ORDER BY pk, sk',
      );
      db.exec('DROP TABLE items');
      db.exec('ALTER TABLE items_next RENAME TO items');
      moved = true;
    }).immediate();
  } catch (error) {
    // The copy needs room for a second table until the first is dropped. Without it the transaction rolled back and
    // the old table serves as before (slower at scale, the same answers); the next open tries again.
    if (!(error instanceof Database.SqliteError && error.code === 'SQLITE_FULL' && schemaOf() !== undefined)) {
      throw error;
    }
  }
  if (moved) compactAfterMove(db);
}

/**
 * The dropped table's pages stay in the file as free pages, which SQLite only reuses one by one: a store of 100,000
 * secrets kept 5 GB of them around 2.3 GB of items, so the items were spread over three times the bytes and a GET
 * at scale read cold pages from disk (docs/BENCHMARKS.md). VACUUM rewrites the file compactly, once, after the move.
 * It needs room for a second copy; without it the store serves as it is, only larger than it needs to be.
 */
function compactAfterMove(db: Database.Database): void {
  try {
    db.exec('VACUUM');
    // VACUUM went through the WAL: give its space back now rather than at the next automatic checkpoint.
    db.pragma('wal_checkpoint(TRUNCATE)');
  } catch (error) {
    if (!(error instanceof Database.SqliteError && error.code === 'SQLITE_FULL')) throw error;
  }
}

function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (error) => (error === null ? resolve() : reject(error))));
}

function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function prepareOp(op: WriteOp): PreparedOp {
  return {
    type: op.type,
    pk: op.pk,
    sk: op.sk,
    json: op.type === 'put' ? JSON.stringify(op.data) : undefined,
    expiresAt: op.type === 'put' ? (op.expiresAt ?? null) : null,
    condition: op.condition === undefined ? undefined : { ...op.condition },
  };
}

function toItem<T extends ItemData>(pk: string, row: ItemRow): StoredItem<T> {
  const item = { pk, sk: row.sk, rev: row.rev, data: JSON.parse(row.data) as T };
  return row.expires_at === null ? item : { ...item, expiresAt: row.expires_at };
}

/**
 * A failure of the disk rather than of the request (SQLITE_FULL, SQLITE_READONLY*, SQLITE_IOERR*) as the typed error
 * callers are answered 503 with ("unavailable, try again") instead of an internal error; SQLite has rolled the
 * transaction back, so nothing was half-written. Undefined for any other failure.
 */
function unwritable(error: unknown): StorageUnavailableError | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string' || !/^SQLITE_(FULL|READONLY|IOERR)(_|$)/.test(code)) return undefined;
  return new StorageUnavailableError(
    `the store cannot be written (${code}: disk full, read-only or failing); the change was not applied`,
    { cause: error },
  );
}
