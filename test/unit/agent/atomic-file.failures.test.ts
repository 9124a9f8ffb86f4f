import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DestinationWriteError, writeFileAtomic } from '../../../lambdas/agent/atomic-file.ts';
import { tempDir } from '../../support/server-process.ts';

/**
 * Failures the tests' user cannot cause for real (they run as root, whom permissions do not stop): `rename` fails
 * as the kernel would, with Node's message, which names the temporary file.
 */
const renameFailure = vi.hoisted(() => ({ code: undefined as string | undefined }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...actual,
    rename: async (from: string, to: string) => {
      if (renameFailure.code === undefined) return actual.rename(from, to);
      throw Object.assign(new Error(`${renameFailure.code}: failed, rename '${from}' -> '${to}'`), {
        code: renameFailure.code,
        path: from,
      });
    },
  };
});

describe('Function: writeFileAtomic when the final rename fails', () => {
  let tmp: { dir: string; cleanup: () => void };
  beforeEach(() => {
    tmp = tempDir('coffer-atomic-fail-');
  });
  afterEach(() => {
    renameFailure.code = undefined;
    tmp.cleanup();
  });

  it.each([
    ['EACCES', 'permission denied (EACCES)'],
    ['EROFS', 'read-only file system (EROFS)'],
    ['EXDEV', 'EXDEV'],
  ])('%s: keeps the last good file, removes the temporary one and never names it', async (code, reason) => {
    const file = path.join(tmp.dir, 'app.conf');
    writeFileSync(file, 'last good');
    renameFailure.code = code;
    const failed = await writeFileAtomic(file, 'new', 0o600).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(DestinationWriteError);
    expect((failed as Error).message).toBe(`cannot write ${file}: ${reason}`);
    expect((failed as Error).message).not.toContain('.tmp');
    expect(readFileSync(file, 'utf8')).toBe('last good');
    expect(readdirSync(tmp.dir)).toEqual(['app.conf']);
  });
});
