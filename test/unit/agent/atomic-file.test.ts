import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareFile, writeFileAtomic } from '../../../lambdas/agent/atomic-file.ts';
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

  it('fails without leaving a temporary file when the destination is a directory', async () => {
    const target = path.join(tmp.dir, 'dir');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(target);
    writeFileSync(path.join(target, 'inside'), '');
    await expect(writeFileAtomic(target, 'x', 0o600)).rejects.toThrow();
    expect(readdirSync(tmp.dir)).toEqual(['dir']);
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
