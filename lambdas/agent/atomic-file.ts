import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Stats } from 'node:fs';
import { chmod, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

/** Mode of the directories the agent creates for a destination: only its own user may list or enter them. */
export const CREATED_DIRECTORY_MODE = 0o700;

/**
 * Writing a destination failed. The message names the destination (and, for a path that is in the way, that path),
 * never the temporary file the write went through: that name means nothing to whoever reads the error.
 */
export class DestinationWriteError extends Error {
  override readonly name = 'DestinationWriteError';

  constructor(
    readonly destination: string,
    /** What went wrong, e.g. `permission denied (EACCES)`. */
    readonly reason: string,
    /** The system error code, when there was one. */
    readonly code?: string,
  ) {
    super(`cannot write ${destination}: ${reason}`);
  }
}

const REASONS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a part of its path is not a directory',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENAMETOOLONG: 'name too long',
  ELOOP: 'too many symbolic links',
};

/** The error for `destination` that a failed file-system call means, without the call's own (path-naming) message. */
function failure(destination: string, err: unknown): DestinationWriteError {
  if (err instanceof DestinationWriteError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined) return new DestinationWriteError(destination, 'error');
  const reason = REASONS[code];
  return new DestinationWriteError(destination, reason === undefined ? code : `${reason} (${code})`, code);
}

/**
 * Writes `content` to `destination` so that readers see either the old file or the new one, never a part:
 * a temporary file in the same directory (so `rename` stays on one filesystem), created exclusively with mode 0600
 * so no one else can open it while it holds the secret, fsynced, given its final mode, then renamed over the
 * destination; the directory is fsynced so the rename survives a crash.
 *
 * Missing parent directories are created first, mode 0700 (as Vault Agent's `create_dest_dirs` does), so a
 * destination under a directory that does not exist yet (a fresh volume, `/run/app/`) works.
 *
 * @throws DestinationWriteError naming `destination`; the file that was there is left as it was.
 */
export async function writeFileAtomic(destination: string, content: string, mode: number): Promise<void> {
  const dir = path.dirname(destination);
  try {
    await ensureDirectory(destination, dir);
    const temp = path.join(dir, `.${path.basename(destination)}.${randomBytes(6).toString('hex')}.tmp`);
    const file = await open(temp, 'wx', 0o600);
    try {
      try {
        await file.writeFile(content, 'utf8');
        await file.sync();
      } finally {
        await file.close();
      }
      // open() applies the umask; chmod sets exactly the mode asked for.
      await chmod(temp, mode);
      await rename(temp, destination);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    await syncDirectory(dir);
  } catch (err) {
    throw failure(destination, err);
  }
}

/**
 * Gives an existing `destination` the mode `mode`.
 * @throws DestinationWriteError naming `destination`.
 */
export async function setFileMode(destination: string, mode: number): Promise<void> {
  await chmod(destination, mode).catch((err: unknown) => {
    throw failure(destination, err);
  });
}

/**
 * Makes sure `dir` is a directory, creating it and its missing parents with mode 0700.
 * @throws DestinationWriteError if a path on the way exists and is not a directory.
 */
async function ensureDirectory(destination: string, dir: string): Promise<void> {
  const missing: string[] = [];
  for (let current = dir; ; ) {
    let found: Stats | undefined;
    try {
      found = await stat(current);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // ENOTDIR: a file further up; walk on to name it.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    }
    if (found?.isDirectory()) break;
    if (found !== undefined) {
      throw new DestinationWriteError(destination, `${current} is in the way: it is not a directory`);
    }
    missing.push(current);
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  if (missing.length === 0) return;
  for (const created of missing.reverse()) {
    try {
      await mkdir(created, { mode: CREATED_DIRECTORY_MODE });
    } catch (err) {
      // Someone else (another template with the same directory) created it meanwhile: theirs, leave its mode.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && (await stat(created)).isDirectory()) continue;
      throw err;
    }
    // mkdir() applies the umask; the mode is exactly 0700 whatever it is.
    await chmod(created, CREATED_DIRECTORY_MODE);
  }
  // The new directories' entries survive a crash as the file's does (its own directory is synced after the rename).
  for (const created of missing) await syncDirectory(path.dirname(created));
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Whether `destination` already holds exactly `content` with `mode`. The comparison is of SHA-256 digests in
 * constant time: the content is secret, and a timing difference must not tell how much of it matched.
 * @returns 'same', 'mode' (content equal, mode differs) or 'different' (including a missing file).
 */
export async function compareFile(
  destination: string,
  content: string,
  mode: number,
): Promise<'same' | 'mode' | 'different'> {
  let existing: Buffer;
  try {
    existing = await readFile(destination);
  } catch {
    return 'different';
  }
  const digest = (data: Buffer | string) => createHash('sha256').update(data).digest();
  if (!timingSafeEqual(digest(existing), digest(content))) return 'different';
  const current = (await stat(destination)).mode & 0o777;
  return current === mode ? 'same' : 'mode';
}
