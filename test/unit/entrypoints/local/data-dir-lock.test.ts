import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DATA_DIR_LOCK_FILE,
  DataDirInUseError,
  lockDataDir,
} from '../../../../lambdas/entrypoints/local/data-dir-lock.ts';

const LOCK_MODULE = path.resolve(import.meta.dirname, '../../../../lambdas/entrypoints/local/data-dir-lock.ts');

/** Tries the lock from another process, as a second server would: 'locked' or the error's name. */
function tryFromAnotherProcess(dataDir: string): string {
  const script =
    `import { lockDataDir } from ${JSON.stringify(LOCK_MODULE)};` +
    `try { lockDataDir(${JSON.stringify(dataDir)}).release(); console.log('locked'); }` +
    'catch (e) { console.log(e.name); }';
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  return run.stdout.trim();
}

describe('Function: lockDataDir', () => {
  let dir: string;
  let dataDir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-lock-'));
    dataDir = path.join(dir, 'data');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the data dir (0700) and one lock file in it, and nothing else', () => {
    const lock = lockDataDir(dataDir);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dataDir)).toEqual([DATA_DIR_LOCK_FILE]);
    lock.release();
  });

  it('refuses another process while held, naming the data dir, and lets it in once released', () => {
    const lock = lockDataDir(dataDir);
    expect(tryFromAnotherProcess(dataDir)).toBe('DataDirInUseError');
    lock.release();
    lock.release(); // idempotent
    expect(tryFromAnotherProcess(dataDir)).toBe('locked');
  });

  it('refuses a second holder in the same process too, without waiting', () => {
    const lock = lockDataDir(dataDir);
    let second: unknown;
    try {
      lockDataDir(dataDir);
    } catch (err) {
      second = err;
    }
    expect(second).toBeInstanceOf(DataDirInUseError);
    expect((second as Error).message).toContain(`the data dir ${dataDir} is in use by another coffer server`);
    lock.release();
    lockDataDir(dataDir).release();
  });
});
