import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * A data directory that goes read-only under a running server, the only way Linux allows it: the kernel refuses to
 * remount a file system read-only (EBUSY) while a process holds a file on it open for writing, which a running server
 * always does (SQLite's database and WAL, the audit log), and a read-only bind remount refuses likewise. So strace
 * attaches to the server and answers EROFS — what a read-only file system answers — to every write, sync, truncate,
 * allocation, rename, unlink and mkdir that names one of the data dir's files, by path or by descriptor (`-P`), and
 * lets every other system call through (the sockets, stdout). Detaching makes the files writable again: the server's
 * own code, SQLite and Node see exactly what they would see on a real read-only mount, with no hook inside them.
 *
 * Opens are let through (strace cannot tell an open for reading from one for writing by the call alone), so a file
 * may be created empty while "read-only"; nothing can be written into it.
 */

/** The system calls that modify a file or a directory entry; each answers EROFS on a read-only mount. */
const MODIFYING_CALLS = [
  'write',
  'pwrite64',
  'writev',
  'pwritev',
  'pwritev2',
  'fsync',
  'fdatasync',
  'sync_file_range',
  'ftruncate',
  'truncate',
  'fallocate',
  'unlink',
  'unlinkat',
  'rename',
  'renameat',
  'renameat2',
  'mkdir',
  'mkdirat',
  'rmdir',
  'fchmod',
  'fchmodat',
].join(',');

export function straceAvailable(): boolean {
  try {
    execFileSync('strace', ['-V'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The paths to refuse under `dir`: every file and directory there now, and the files SQLite may create beside a
 * database while it runs (its journal, WAL and shared-memory index).
 */
export function pathsUnder(dir: string): string[] {
  const found: string[] = [dir];
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      found.push(full);
      if (entry.isDirectory()) walk(full);
    }
  };
  walk(dir);
  const sqlite = found.filter((file) => file.endsWith('.db'));
  for (const db of sqlite) for (const suffix of ['-journal', '-wal', '-shm']) found.push(`${db}${suffix}`);
  return [...new Set(found)];
}

/** The tracer pid of each thread of `pid` (0: none). */
function tracers(pid: number): number[] {
  const tasks = readdirSync(`/proc/${pid}/task`);
  return tasks.map((tid) => {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      return Number(/^TracerPid:\s*(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      return 0; // the thread ended
    }
  });
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface ReadOnlySpell {
  /** Detaches: the files are writable again. */
  restore(): Promise<void>;
}

/**
 * Makes `paths` read-only for process `pid` (every thread, and threads it starts) until `restore()`. Resolves once
 * every thread is traced, so what follows runs against a read-only data dir.
 * @throws Error when strace cannot attach (not root, no ptrace) or exits early
 */
export async function makeReadOnly(pid: number, paths: readonly string[]): Promise<ReadOnlySpell> {
  for (const file of paths) statSync(path.dirname(file)); // fail here, not inside strace, on a path that cannot exist
  const args = ['-f', '-qq', '-o', '/dev/null', '-p', String(pid), '-e', `trace=${MODIFYING_CALLS}`];
  args.push('-e', `inject=${MODIFYING_CALLS}:error=EROFS`);
  for (const file of paths) args.push('-P', file);
  const strace: ChildProcess = spawn('strace', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  strace.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => strace.once('exit', (code) => resolve(code)));
  try {
    await until(
      () => {
        if (strace.exitCode !== null) throw new Error(`strace exited ${strace.exitCode}: ${stderr.slice(0, 500)}`);
        return tracers(pid).every((tracer) => tracer === strace.pid);
      },
      10_000,
      'strace did not attach to every thread of the server',
    );
  } catch (error) {
    strace.kill('SIGKILL');
    await exited;
    throw error;
  }
  return {
    async restore() {
      // SIGINT: strace detaches from every thread, restoring them untouched, then exits.
      strace.kill('SIGINT');
      await exited;
      await until(() => tracers(pid).every((tracer) => tracer === 0), 10_000, 'the server is still traced');
    },
  };
}
