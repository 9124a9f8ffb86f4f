import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { prefixUpperBound, SqliteStore } from '../../../lambdas/adapters/local/store/sqlite-store.ts';
import { StorageUnavailableError } from '../../../lambdas/core/errors.ts';
import { ConditionFailedError, type WriteOp } from '../../../lambdas/core/ports/store.ts';
import { describeStoreContract } from '../../contract/store.contract.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const crashWriter = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-'));
}

function contractFactory(groupCommit: boolean) {
  return async () => {
    const dir = tempDir();
    const store = SqliteStore.open({ path: path.join(dir, 'store.db'), groupCommit });
    return { store, cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  };
}

describeStoreContract('SqliteStore (group commit)', contractFactory(true));
describeStoreContract('SqliteStore (one commit per transaction)', contractFactory(false));

const put = (sk: string, data: Record<string, unknown> = {}, condition?: WriteOp['condition']): WriteOp => ({
  type: 'put',
  pk: 'p',
  sk,
  data,
  ...(condition === undefined ? {} : { condition }),
});

/** Frames in the write-ahead log: each commit appends at least one, so this counts commits from above. */
function walFrames(dbFile: string): number {
  const wal = `${dbFile}-wal`;
  if (!fs.existsSync(wal)) return 0;
  const header = Buffer.alloc(32);
  const fd = fs.openSync(wal, 'r');
  try {
    if (fs.readSync(fd, header, 0, 32, 0) < 32) return 0;
  } finally {
    fs.closeSync(fd);
  }
  const pageSize = header.readUInt32BE(8);
  return (fs.statSync(wal).size - 32) / (24 + pageSize);
}

describe('Class: SqliteStore', () => {
  let dir: string;
  let dbFile: string;

  beforeEach(() => {
    dir = tempDir();
    dbFile = path.join(dir, 'nested', 'store.db');
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps data across close and reopen', async () => {
    const first = SqliteStore.open({ path: dbFile });
    await first.transact([put('k', { v: 'persisted ✓' }, { kind: 'absent' })]);
    await first.transact([put('k', { v: 'updated' }, { kind: 'rev', rev: 1 })]);
    await first.close();

    const second = SqliteStore.open({ path: dbFile });
    try {
      expect(await second.get('p', 'k')).toEqual({ pk: 'p', sk: 'k', rev: 2, data: { v: 'updated' } });
      expect(second.checkIntegrity()).toBe('ok');
    } finally {
      await second.close();
    }
  });

  it('answers a full disk with StorageUnavailableError, applies nothing, and takes writes once there is room', async () => {
    const store = SqliteStore.open({ path: dbFile });
    // SQLite's own page limit makes the next write fail with SQLITE_FULL exactly as a full disk does; the soak
    // campaign `disk-full` shows the same on a real full tmpfs.
    const db = (store as unknown as { db: Database.Database }).db;
    try {
      await store.transact([put('before', { v: 'kept' })]);
      const pages = db.pragma('page_count', { simple: true }) as number;
      db.pragma(`max_page_count = ${pages}`);
      const big = { v: 'x'.repeat(64 * 1024) };
      const refused = store.transact([put('big', big)]);
      await expect(refused).rejects.toBeInstanceOf(StorageUnavailableError);
      await expect(refused).rejects.toThrow(/SQLITE_FULL.*not applied/);
      expect(await store.get('p', 'big')).toBeUndefined();
      expect(await store.get('p', 'before')).toMatchObject({ data: { v: 'kept' } });

      db.pragma('max_page_count = 1073741823');
      await store.transact([put('big', big)]);
      expect(await store.get('p', 'big')).toMatchObject({ data: big });
      expect(store.checkIntegrity()).toBe('ok');
    } finally {
      await store.close();
    }
  });

  it('creates the directory with mode 0700 and the database files with mode 0600', async () => {
    const store = SqliteStore.open({ path: dbFile });
    try {
      await store.transact([put('k')]);
      expect(fs.statSync(path.dirname(dbFile)).mode & 0o777).toBe(0o700);
      for (const file of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) {
        expect({ file, mode: fs.statSync(file).mode & 0o777 }).toEqual({ file, mode: 0o600 });
      }
    } finally {
      await store.close();
    }
  });

  it('tightens the mode of an existing database file to 0600', async () => {
    fs.mkdirSync(path.dirname(dbFile), { recursive: true });
    fs.writeFileSync(dbFile, '', { mode: 0o644 });
    fs.chmodSync(dbFile, 0o644);

    const store = SqliteStore.open({ path: dbFile });
    await store.close();

    expect(fs.statSync(dbFile).mode & 0o777).toBe(0o600);
  });

  it('rejects operations after close with a clear error', async () => {
    const store = SqliteStore.open({ path: dbFile });
    await store.close();

    await expect(store.get('p', 'k')).rejects.toThrow(/closed/);
    await expect(store.query('p')).rejects.toThrow(/closed/);
    await expect(store.transact([put('k')])).rejects.toThrow(/closed/);
  });

  it('commits transactions still queued when close is called', async () => {
    const store = SqliteStore.open({ path: dbFile });
    const pending = store.transact([put('late', { v: 1 })]);
    await store.close();
    await expect(pending).resolves.toBeUndefined();

    const reopened = SqliteStore.open({ path: dbFile });
    try {
      expect(await reopened.get('p', 'late')).toMatchObject({ rev: 1, data: { v: 1 } });
    } finally {
      await reopened.close();
    }
  });

  it('snapshots the operations at call time, ignoring later mutation by the caller', async () => {
    const store = SqliteStore.open({ path: dbFile });
    try {
      const data = { v: 'original' };
      const pending = store.transact([put('k', data)]);
      data.v = 'mutated';
      await pending;

      expect((await store.get('p', 'k'))?.data).toEqual({ v: 'original' });
    } finally {
      await store.close();
    }
  });

  for (const groupCommit of [true, false]) {
    it(`applies transactions issued together in call order (groupCommit: ${groupCommit})`, async () => {
      const store = SqliteStore.open({ path: dbFile, groupCommit });
      try {
        const chain = [
          store.transact([put('k', { step: 0 }, { kind: 'absent' })]),
          ...Array.from({ length: 9 }, (_, i) =>
            store.transact([put('k', { step: i + 1 }, { kind: 'rev', rev: i + 1 })]),
          ),
        ];
        await Promise.all(chain);

        expect(await store.get('p', 'k')).toMatchObject({ rev: 10, data: { step: 9 } });
      } finally {
        await store.close();
      }
    });
  }

  it('commits 200 concurrent transactions together, rejecting only those whose conditions fail', async () => {
    const store = SqliteStore.open({ path: dbFile });
    await store.transact([put('existing')]);
    const framesBefore = walFrames(dbFile);
    const failing = (i: number) => i % 7 === 3;

    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) =>
        store.transact(
          failing(i)
            ? // Its first put would succeed; the savepoint must roll it back when the second op fails.
              [put(`t-${i}`, { i }), put('existing', { i }, { kind: 'absent' })]
            : [put(`t-${i}`, { i }, { kind: 'absent' })],
        ),
      ),
    );
    const framesWritten = walFrames(dbFile) - framesBefore;
    await store.close();

    results.forEach((result, i) => {
      if (failing(i)) {
        expect(result.status).toBe('rejected');
        expect((result as PromiseRejectedResult).reason).toBeInstanceOf(ConditionFailedError);
        expect((result as PromiseRejectedResult).reason).toMatchObject({ index: 1, sk: 'existing' });
      } else {
        expect(result.status).toBe('fulfilled');
      }
    });
    // 200 separate commits would append at least 200 frames to the log; one shared commit appends a handful.
    expect(framesWritten).toBeLessThan(50);

    const reopened = SqliteStore.open({ path: dbFile });
    try {
      for (let i = 0; i < 200; i++) {
        const item = await reopened.get('p', `t-${i}`);
        expect({ i, item }).toEqual({
          i,
          item: failing(i) ? undefined : { pk: 'p', sk: `t-${i}`, rev: 1, data: { i } },
        });
      }
      expect(await reopened.get('p', 'existing')).toMatchObject({ rev: 1, data: {} });
    } finally {
      await reopened.close();
    }
  });

  it('rolls back only the caller whose write fails midway, committing the rest of the group', async () => {
    const store = SqliteStore.open({ path: dbFile });
    try {
      // A value SQLite cannot bind makes the second put throw after the first one has been written.
      const unbindable = Symbol('not a number') as unknown as number;
      const before = store.transact([put('before')]);
      const broken = store.transact([
        put('half'),
        { type: 'put', pk: 'p', sk: 'bad', data: {}, expiresAt: unbindable },
      ]);
      const after = store.transact([put('after')]);

      await expect(broken).rejects.toThrow();
      await Promise.all([before, after]);

      expect(await store.get('p', 'half')).toBeUndefined();
      expect(await store.get('p', 'before')).toMatchObject({ rev: 1 });
      expect(await store.get('p', 'after')).toMatchObject({ rev: 1 });
    } finally {
      await store.close();
    }
  });

  it('rejects every caller of a group whose commit cannot happen, and recovers afterwards', async () => {
    const store = SqliteStore.open({ path: dbFile });
    const rival = new Database(dbFile);
    try {
      rival.pragma('busy_timeout = 0');
      rival.exec('BEGIN IMMEDIATE');
      // The rival holds the write lock past the store's busy timeout, so the whole group must fail, unapplied.
      const results = await Promise.allSettled([store.transact([put('a')]), store.transact([put('b')])]);
      rival.exec('ROLLBACK');

      for (const result of results) {
        expect(result.status).toBe('rejected');
        expect((result as PromiseRejectedResult).reason).toMatchObject({ cause: { code: 'SQLITE_BUSY' } });
      }
      expect(await store.get('p', 'a')).toBeUndefined();
      await store.transact([put('c')]);
      expect(await store.get('p', 'c')).toMatchObject({ rev: 1 });
    } finally {
      rival.close();
      await store.close();
    }
  });

  it('commits each transaction separately when group commit is off', async () => {
    const store = SqliteStore.open({ path: dbFile, groupCommit: false });
    try {
      await store.transact([put('warm-up')]);
      const framesBefore = walFrames(dbFile);

      await Promise.all(Array.from({ length: 20 }, (_, i) => store.transact([put(`t-${i}`)])));

      expect(walFrames(dbFile) - framesBefore).toBeGreaterThanOrEqual(20);
    } finally {
      await store.close();
    }
  });

  it('syncs the write-ahead log on the thread pool before a transaction resolves', async () => {
    const synced: string[] = [];
    const real = fs.fdatasync;
    const spy = vi.spyOn(fs, 'fdatasync').mockImplementation((fd, callback) => {
      synced.push(fs.readlinkSync(`/proc/self/fd/${fd}`));
      real(fd, callback);
    });
    const store = SqliteStore.open({ path: dbFile });
    try {
      // SQLite itself no longer syncs inside COMMIT (that blocked the event loop): the store's own sync is all there is.
      const db = (store as unknown as { db: Database.Database }).db;
      expect(db.pragma('synchronous', { simple: true })).toBe(1);
      await Promise.all([store.transact([put('a')]), store.transact([put('b')])]);
      expect(synced).toEqual([fs.realpathSync(`${dbFile}-wal`)]);
      await store.transact([put('c')]);
      expect(synced).toHaveLength(2);
    } finally {
      await store.close();
      spy.mockRestore();
    }
  });

  it('answers writers, and readers of what they wrote, only once the log is synced', async () => {
    let release!: () => void;
    const syncWal = vi.fn(() => new Promise<void>((resolve) => (release = resolve)));
    const store = SqliteStore.open({ path: dbFile, syncWal });
    try {
      let written = false;
      let readBack: unknown;
      const write = store.transact([put('k', { v: 1 })]).then(() => (written = true));
      await vi.waitFor(() => expect(syncWal).toHaveBeenCalledTimes(1));
      const read = store.get('p', 'k').then((item) => (readBack = item));
      // Another partition is not held back by the sync.
      expect(await store.get('elsewhere', 'k')).toBeUndefined();
      expect(await store.query('elsewhere')).toEqual({ items: [] });
      await new Promise((resolve) => setImmediate(resolve));
      expect({ written, readBack }).toEqual({ written: false, readBack: undefined });

      release();
      await Promise.all([write, read]);
      expect(readBack).toMatchObject({ sk: 'k', data: { v: 1 } });
      expect(written).toBe(true);
    } finally {
      release?.();
      await store.close();
    }
  });

  it('fails closed after a sync fails, and serves again once reopened', async () => {
    let fail = true;
    const syncWal = async () => {
      if (fail) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    };
    const store = SqliteStore.open({ path: dbFile, syncWal });
    const refused = store.transact([put('k')]);
    await expect(refused).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(refused).rejects.toThrow(/could not make its writes durable.*restart/);
    // The pages may be clean in the kernel and still not on disk: nothing is read or written from here on.
    await expect(store.get('p', 'other')).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(store.transact([put('later')])).rejects.toBeInstanceOf(StorageUnavailableError);
    await store.close();

    fail = false;
    const reopened = SqliteStore.open({ path: dbFile, syncWal });
    try {
      await reopened.transact([put('after')]);
      expect(await reopened.get('p', 'after')).toMatchObject({ rev: 1 });
    } finally {
      await reopened.close();
    }
  });

  it('keeps every acknowledged write when the writing process is killed', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', crashWriter, dbFile], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acked: string[] = [];
    let stderr = '';
    let buffered = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      // Only complete lines count as acknowledgements; a torn last line is kept for the next chunk.
      buffered = lines.pop()!;
      for (const line of lines) if (line.startsWith('ack ')) acked.push(line.slice(4));
      if (acked.length >= 500 && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });

    const signal = await exited;

    expect({ signal, stderr }).toEqual({ signal: 'SIGKILL', stderr: '' });
    expect(acked.length).toBeGreaterThanOrEqual(500);
    const store = SqliteStore.open({ path: dbFile });
    try {
      expect(store.checkIntegrity()).toBe('ok');
      const missing: string[] = [];
      for (const sk of acked) {
        const item = await store.get('crash', sk);
        if (item?.data.sk !== sk) missing.push(sk);
      }
      expect(missing).toEqual([]);
    } finally {
      await store.close();
    }
  });
});

describe('Function: prefixUpperBound', () => {
  it('bumps the last code point', () => {
    expect(prefixUpperBound('a%')).toBe('a&');
    expect(prefixUpperBound('é')).toBe('ê');
    expect(prefixUpperBound('x😀')).toBe('x😁');
  });

  it('skips the surrogate range and drops trailing maximal code points', () => {
    expect(prefixUpperBound('a\u{d7ff}')).toBe('a\u{e000}');
    expect(prefixUpperBound('a\u{10ffff}')).toBe('b');
    expect(prefixUpperBound('\u{10ffff}\u{10ffff}')).toBeUndefined();
  });
});
