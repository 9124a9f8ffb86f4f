import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes `content` to `destination` so that readers see either the old file or the new one, never a part:
 * a temporary file in the same directory (so `rename` stays on one filesystem), created exclusively with mode 0600
 * so no one else can open it while it holds the secret, fsynced, given its final mode, then renamed over the
 * destination; the directory is fsynced so the rename survives a crash.
 */
export async function writeFileAtomic(destination: string, content: string, mode: number): Promise<void> {
  const dir = path.dirname(destination);
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
