import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  compareFile,
  DestinationWriteError,
  setFileMode,
  writeFileAtomic,
} from '../../../lambdas/agent/atomic-file.ts';
import { tempDir } from '../../support/server-process.ts';

describe('Function: writeFileAtomic', () => {
  let tmp: { dir: string; cleanup: () => void };
  beforeEach(() => {
    tmp = tempDir('coffer-atomic-');
  });
  afterEach(() => tmp.cleanup());

  it('replaces the file by rename, with the mode asked for, and leaves no temporary file', async () => {
    const file = path.join(tmp.dir, 'out.conf');
    writeFileSync(file, 'old', { mode: 0o644 });
    const before = statSync(file).ino;
    await writeFileAtomic(file, 'new content', 0o600);
    expect(readFileSync(file, 'utf8')).toBe('new content');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(file).ino).not.toBe(before);
    expect(readdirSync(tmp.dir)).toEqual(['out.conf']);
  });

  it('sets modes wider than the umask would allow at creation', async () => {
    const file = path.join(tmp.dir, 'shared.conf');
    await writeFileAtomic(file, 'x', 0o640);
    expect(statSync(file).mode & 0o777).toBe(0o640);
  });

  it('fails without leaving a temporary file when the destination is a directory, naming the destination only', async () => {
    const target = path.join(tmp.dir, 'dir');
    mkdirSync(target);
    writeFileSync(path.join(target, 'inside'), '');
    const failed = await writeFileAtomic(target, 'x', 0o600).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(DestinationWriteError);
    expect(failed).toMatchObject({ destination: target, code: 'EISDIR' });
    expect((failed as Error).message).toBe(`cannot write ${target}: it is a directory (EISDIR)`);
    expect(readdirSync(tmp.dir)).toEqual(['dir']);
  });

  it('creates missing parent directories with mode 0700, whatever the umask, and leaves existing ones alone', async () => {
    const file = path.join(tmp.dir, 'run', 'app', 'db.conf');
    await chmod(tmp.dir, 0o755);
    const umask = process.umask(0o000);
    try {
      await writeFileAtomic(file, 'value', 0o600);
    } finally {
      process.umask(umask);
    }
    expect(readFileSync(file, 'utf8')).toBe('value');
    expect(statSync(path.join(tmp.dir, 'run')).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(tmp.dir, 'run', 'app')).mode & 0o777).toBe(0o700);
    expect(statSync(tmp.dir).mode & 0o777).toBe(0o755);
    expect(readdirSync(path.join(tmp.dir, 'run', 'app'))).toEqual(['db.conf']);
  });

  it('names the file in the way when a parent directory cannot be created, and creates nothing', async () => {
    writeFileSync(path.join(tmp.dir, 'conf'), 'a file, not a directory');
    const file = path.join(tmp.dir, 'conf', 'sub', 'out');
    const failed = writeFileAtomic(file, 'x', 0o600);
    await expect(failed).rejects.toThrow(DestinationWriteError);
    await expect(failed).rejects.toThrow(
      `cannot write ${file}: ${path.join(tmp.dir, 'conf')} is in the way: it is not a directory`,
    );
    expect(readdirSync(tmp.dir)).toEqual(['conf']);
    expect(readFileSync(path.join(tmp.dir, 'conf'), 'utf8')).toBe('a file, not a directory');
  });
});

describe('Function: setFileMode', () => {
  it('names the destination when it cannot change the mode', async () => {
    const tmp = tempDir('coffer-mode-');
    try {
      const missing = path.join(tmp.dir, 'gone');
      await expect(setFileMode(missing, 0o600)).rejects.toThrow(`cannot write ${missing}: ENOENT`);
    } finally {
      tmp.cleanup();
    }
  });
});

describe('Function: compareFile', () => {
  let tmp: { dir: string; cleanup: () => void };
  beforeEach(() => {
    tmp = tempDir('coffer-compare-');
  });
  afterEach(() => tmp.cleanup());

  it('tells same, mode-only and different contents apart', async () => {
    const file = path.join(tmp.dir, 'f');
    expect(await compareFile(file, 'a', 0o600)).toBe('different');
    writeFileSync(file, 'a');
    await chmod(file, 0o600);
    expect(await compareFile(file, 'a', 0o600)).toBe('same');
    expect(await compareFile(file, 'a', 0o640)).toBe('mode');
    expect(await compareFile(file, 'b', 0o600)).toBe('different');
  });
});
