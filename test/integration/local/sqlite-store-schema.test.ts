import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SqliteStore } from '../../../lambdas/adapters/local/store/sqlite-store.ts';

/** The table every store had before the rowid table; stores written then are migrated when opened. */
const WITHOUT_ROWID_SCHEMA = `
  CREATE TABLE items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    rev INTEGER NOT NULL,
    data TEXT NOT NULL,
    expires_at INTEGER NULL,
    PRIMARY KEY (pk, sk)
  ) WITHOUT ROWID
`;

function itemsSchema(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return (
      db.prepare(`SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'items'`).get() as { sql: string }
    ).sql;
  } finally {
    db.close();
  }
}

function tables(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return (
      db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`).all() as { name: string }[]
    ).map((row) => row.name);
  } finally {
    db.close();
  }
}

describe('Class: SqliteStore (its table)', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-schema-'));
    file = path.join(dir, 'store.db');
  });

  afterEach(() => {
    vi.restoreAllMocks();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates a new store as a rowid table keyed by (pk, sk)', async () => {
    const store = SqliteStore.open({ path: file });
    await store.close();

    const sql = itemsSchema(file);
    expect(sql).toMatch(/PRIMARY KEY \(pk, sk\)/);
    expect(sql).not.toMatch(/WITHOUT\s+ROWID/i);
  });

  it('moves a store written as a WITHOUT ROWID table into the rowid table, keeping every item, revision and expiry', async () => {
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    old.exec(WITHOUT_ROWID_SCHEMA);
    const insert = old.prepare('INSERT INTO items (pk, sk, rev, data, expires_at) VALUES (?, ?, ?, ?, ?)');
    // Keys that order differently byte-wise than by UTF-16 or case, so the copy must keep SQLite's BINARY order.
    const keys = ['a', 'B', 'b/1', 'b/2', 'é', '\u{1F600}', '\uFF5E', 'z'];
    old.transaction(() => {
      for (const [i, sk] of keys.entries()) {
        insert.run('p', sk, i + 1, JSON.stringify({ sk, i }), i % 2 === 0 ? null : 1_000 + i);
      }
      insert.run('other', 'only', 7, JSON.stringify({ big: 'x'.repeat(10_000) }), null);
    })();
    old.close();

    const store = SqliteStore.open({ path: file });
    try {
      expect(itemsSchema(file)).not.toMatch(/WITHOUT\s+ROWID/i);
      expect(tables(file)).toEqual(['items']);
      expect(store.checkIntegrity()).toBe('ok');

      const page = await store.query('p');
      expect(page.items.map((item) => item.sk)).toEqual(['B', 'a', 'b/1', 'b/2', 'z', 'é', '\uFF5E', '\u{1F600}']);
      for (const item of page.items) {
        const i = keys.indexOf(item.sk);
        expect(item).toEqual({
          pk: 'p',
          sk: item.sk,
          rev: i + 1,
          data: { sk: item.sk, i },
          ...(i % 2 === 0 ? {} : { expiresAt: 1_000 + i }),
        });
      }
      expect(await store.get('other', 'only')).toEqual({
        pk: 'other',
        sk: 'only',
        rev: 7,
        data: { big: 'x'.repeat(10_000) },
      });

      // The moved table takes writes under the same rules: conditions see the carried-over revisions.
      await expect(
        store.transact([{ type: 'put', pk: 'p', sk: 'a', data: {}, condition: { kind: 'rev', rev: 1 } }]),
      ).resolves.toBeUndefined();
      expect((await store.get('p', 'a'))?.rev).toBe(2);
      await expect(
        store.transact([{ type: 'put', pk: 'p', sk: 'z', data: {}, condition: { kind: 'absent' } }]),
      ).rejects.toThrow(/condition failed/);
    } finally {
      await store.close();
    }

    // Opening it again finds nothing to move and changes nothing.
    const reopened = SqliteStore.open({ path: file });
    try {
      expect(tables(file)).toEqual(['items']);
      expect((await reopened.get('p', 'a'))?.rev).toBe(2);
      expect((await reopened.query('p')).items).toHaveLength(keys.length);
    } finally {
      await reopened.close();
    }
  });

  it('gives the moved-out table pages back: the file holds no free pages after the move', async () => {
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    old.exec(WITHOUT_ROWID_SCHEMA);
    const insert = old.prepare('INSERT INTO items (pk, sk, rev, data, expires_at) VALUES (?, ?, ?, ?, ?)');
    old.transaction(() => {
      for (let i = 0; i < 2_000; i++) insert.run('p', `k-${i}`, 1, JSON.stringify({ v: 'x'.repeat(2_000) }), null);
    })();
    old.pragma('wal_checkpoint(TRUNCATE)');
    const pagesBefore = old.pragma('page_count', { simple: true }) as number;
    old.close();

    await SqliteStore.open({ path: file }).close();

    const db = new Database(file, { readonly: true });
    try {
      // Without the compaction the dropped table's pages (about half the file) would sit on the free list.
      expect(db.pragma('freelist_count', { simple: true })).toBe(0);
      expect(db.pragma('page_count', { simple: true }) as number).toBeLessThan(pagesBefore * 1.25);
    } finally {
      db.close();
    }
    expect(fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0).toBe(0);
  });

  it('moves afresh past a stray scratch table rather than merging what it holds', async () => {
    const old = new Database(file);
    old.exec(WITHOUT_ROWID_SCHEMA);
    old
      .prepare('INSERT INTO items (pk, sk, rev, data, expires_at) VALUES (?, ?, ?, ?, ?)')
      .run('p', 'k', 3, '{}', null);
    // The move is one transaction, so a crash cannot leave this; whatever did, its rows are not the store's.
    old.exec('CREATE TABLE items_next (pk TEXT, sk TEXT, rev INTEGER, data TEXT, expires_at INTEGER)');
    old.prepare('INSERT INTO items_next VALUES (?, ?, ?, ?, ?)').run('p', 'stale', 1, '{}', null);
    old.close();

    const store = SqliteStore.open({ path: file });
    try {
      expect(tables(file)).toEqual(['items']);
      expect((await store.query('p')).items.map(({ sk, rev }) => ({ sk, rev }))).toEqual([{ sk: 'k', rev: 3 }]);
    } finally {
      await store.close();
    }
  });

  it('keeps serving from the old table when the disk has no room for the move, and moves it on a later open', async () => {
    const old = new Database(file);
    old.exec(WITHOUT_ROWID_SCHEMA);
    old
      .prepare('INSERT INTO items (pk, sk, rev, data, expires_at) VALUES (?, ?, ?, ?, ?)')
      .run('p', 'k', 4, '{"v":1}', null);
    old.close();

    // The copy is where a full disk would stop it; SQLite then reports SQLITE_FULL and the transaction rolls back.
    const exec = Database.prototype.exec;
    const full = vi.spyOn(Database.prototype, 'exec').mockImplementation(function (this: Database.Database, sql) {
      if (sql.includes('INSERT INTO items_next'))
        throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
      return exec.call(this, sql);
    });
    const store = SqliteStore.open({ path: file });
    try {
      expect(itemsSchema(file)).toMatch(/WITHOUT\s+ROWID/i);
      expect(tables(file)).toEqual(['items']);
      expect(await store.get('p', 'k')).toEqual({ pk: 'p', sk: 'k', rev: 4, data: { v: 1 } });
      await store.transact([{ type: 'put', pk: 'p', sk: 'k', data: { v: 2 }, condition: { kind: 'rev', rev: 4 } }]);
    } finally {
      await store.close();
    }

    full.mockRestore();
    const reopened = SqliteStore.open({ path: file });
    try {
      expect(itemsSchema(file)).not.toMatch(/WITHOUT\s+ROWID/i);
      expect(await reopened.get('p', 'k')).toEqual({ pk: 'p', sk: 'k', rev: 5, data: { v: 2 } });
    } finally {
      await reopened.close();
    }
  });

  it('fails the open on any other error of the move, leaving the old table whole', async () => {
    const old = new Database(file);
    old.exec(WITHOUT_ROWID_SCHEMA);
    old
      .prepare('INSERT INTO items (pk, sk, rev, data, expires_at) VALUES (?, ?, ?, ?, ?)')
      .run('p', 'k', 1, '{}', null);
    old.close();

    const exec = Database.prototype.exec;
    vi.spyOn(Database.prototype, 'exec').mockImplementation(function (this: Database.Database, sql) {
      if (sql.includes('DROP TABLE items')) throw new Database.SqliteError('disk I/O error', 'SQLITE_IOERR');
      return exec.call(this, sql);
    });
    expect(() => SqliteStore.open({ path: file })).toThrow(/disk I\/O error/);
    vi.restoreAllMocks();

    expect(itemsSchema(file)).toMatch(/WITHOUT\s+ROWID/i);
    expect(tables(file)).toEqual(['items']);
  });
});
