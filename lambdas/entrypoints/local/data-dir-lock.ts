import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/** The file whose lock says "a server runs on this data dir"; it holds no data. */
export const DATA_DIR_LOCK_FILE = 'server.lock';

/** Another process holds the data dir: starting a second writer would fork the audit chain and stale its caches. */
export class DataDirInUseError extends Error {
  constructor(readonly dataDir: string) {
    super(
      `the data dir ${dataDir} is in use by another coffer server (it holds ${path.join(dataDir, DATA_DIR_LOCK_FILE)}); ` +
        'stop that server first, or give this one another --data-dir',
    );
    this.name = 'DataDirInUseError';
  }
}

export interface DataDirLock {
  /** Releases the lock; idempotent. The kernel releases it anyway when the process ends, however it ends. */
  release(): void;
}

/**
 * Takes the data dir for this process, for as long as it runs: the local node is its store's and its audit log's only
 * writer (the hash chain continues from the head it holds in memory, and lambdas/core/single-writer-cache.ts trusts
 * that nothing else writes), so a second server on the same dir must not start.
 *
 * The lock is SQLite's own exclusive lock on `<dataDir>/server.lock`, an fcntl (POSIX) lock the kernel drops when
 * the process dies, SIGKILL included: a server killed mid-write never blocks its restart, as a pid file would. An
 * exclusive transaction that is never committed keeps the lock; nothing is written, so the file stays empty.
 * better-sqlite3 is the one native file-locking binding the node already carries (Node itself has no `flock`).
 *
 * @throws DataDirInUseError when another process holds it (answered at once, no waiting)
 */
export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // timeout 0: a busy lock means another server, which will not let go by waiting.
  const db = new Database(path.join(dataDir, DATA_DIR_LOCK_FILE), { timeout: 0 });
  try {
    // Nothing is ever written, so the journal may live in memory: the lock is the one file in the data dir. (OFF is
    // refused in better-sqlite3's defensive mode and would leave a `-journal` file beside it.)
    db.pragma('journal_mode = MEMORY');
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY') throw new DataDirInUseError(dataDir);
    throw err;
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      db.close();
    },
  };
}
