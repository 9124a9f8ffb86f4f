import { execFile } from 'node:child_process';
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type { ScanTarget } from './scanner.ts';

const run = promisify(execFile);
/** git's own test for binary content: a NUL byte in the first 8000 bytes. */
const BINARY_SNIFF_BYTES = 8000;
const GIT_OUTPUT_LIMIT = 1024 * 1024 * 1024;
/** How many bytes of blobs one `git cat-file --batch` reads. */
const BLOB_BATCH_BYTES = 32 * 1024 * 1024;

/** What was scanned and what was passed over, for the summary line. */
export interface SourceStats {
  scanned: number;
  skippedBinary: number;
  skippedLarge: number;
}

export function newStats(): SourceStats {
  return { scanned: 0, skippedBinary: 0, skippedLarge: 0 };
}

/**
 * The files under `paths` (files or directories), each once. In a folder inside a git work tree, what git would not
 * ignore: tracked files and untracked ones that `.gitignore` does not exclude (`git ls-files -co --exclude-standard`).
 * Elsewhere every regular file, except `.git` folders. A file given by name is scanned, ignored or not. Symbolic links
 * are not followed.
 */
export async function listFiles(paths: readonly string[], cwd: string): Promise<string[]> {
  const files = new Set<string>();
  for (const given of paths) {
    const absolute = path.resolve(cwd, given);
    const stats = await lstat(absolute).catch(() => {
      throw new CliError(`no such file or directory: ${given}`, ExitCode.usage);
    });
    // A file named on the command line is scanned even if git ignores it: a `.env` is usually ignored, and it is
    // where `coffer scan .env` and `coffer scan --fix .env` have to look.
    if (!stats.isDirectory()) {
      files.add(absolute);
      continue;
    }
    const folder = absolute;
    const inGit = await git(folder, ['rev-parse', '--is-inside-work-tree']).then(
      (out) => out.toString('utf8').trim() === 'true',
      () => false,
    );
    if (inGit) {
      const listed = await git(folder, ['ls-files', '-z', '-co', '--exclude-standard', '--', '.']);
      for (const name of splitNul(listed)) files.add(path.join(folder, name));
    } else {
      for (const entry of await readdir(absolute, { recursive: true, withFileTypes: true })) {
        const full = path.join(entry.parentPath, entry.name);
        if (entry.isFile() && !path.relative(absolute, full).split(path.sep).includes('.git')) files.add(full);
      }
    }
  }
  return [...files].sort();
}

/** Reads the files as scan targets, passing over binary files and files larger than `maxBytes`. */
export async function* fileTargets(
  files: readonly string[],
  cwd: string,
  maxBytes: number,
  stats: SourceStats,
): AsyncGenerator<ScanTarget> {
  for (const file of files) {
    // Deleted from the work tree but still tracked, or replaced by a folder or link since it was listed.
    const info = await lstat(file).catch(() => undefined);
    if (info === undefined || !info.isFile()) continue;
    if (info.size > maxBytes) {
      stats.skippedLarge += 1;
      continue;
    }
    const content = await readFile(file);
    if (isBinary(content)) {
      stats.skippedBinary += 1;
      continue;
    }
    stats.scanned += 1;
    yield { path: displayPath(path.relative(cwd, file)), content: content.toString('utf8') };
  }
}

/**
 * Every blob reachable from any ref, each once, attributed to the first commit (oldest first) that added it at a
 * path: a secret committed and deleted later is still in the history that every clone carries.
 */
export async function* historyTargets(cwd: string, maxBytes: number, stats: SourceStats): AsyncGenerator<ScanTarget> {
  const root = await repositoryRoot(cwd, '--git-history');
  const log = await git(root, [
    'log',
    '--all',
    '--reverse',
    '--no-renames',
    '-m',
    '--raw',
    '--no-abbrev',
    '-z',
    '--format=commit %H',
  ]);
  const firstSeen = new Map<string, { commit: string; path: string }>();
  let commit = '';
  const tokens = splitNul(log);
  for (let i = 0; i < tokens.length; i += 1) {
    const token = (tokens[i] as string).trimStart();
    if (token.startsWith('commit ')) {
      commit = token.slice('commit '.length);
    } else if (token.startsWith(':')) {
      const filePath = tokens[i + 1] as string;
      i += 1;
      const blob = rawEntryBlob(token);
      if (blob !== undefined && !firstSeen.has(blob)) firstSeen.set(blob, { commit, path: filePath });
    }
  }
  for await (const { blob, content } of readBlobs(root, [...firstSeen.keys()], maxBytes, stats)) {
    const seen = firstSeen.get(blob) as { commit: string; path: string };
    yield { path: seen.path, commit: seen.commit, content };
  }
}

/**
 * What `git commit` would add: the staged version of each added or modified file, limited to the lines the staged
 * diff adds, so a pre-commit hook blames only the commit being made.
 */
export async function* stagedTargets(cwd: string, maxBytes: number, stats: SourceStats): AsyncGenerator<ScanTarget> {
  const root = await repositoryRoot(cwd, '--staged');
  const raw = splitNul(
    await git(root, ['diff', '--cached', '--no-renames', '--raw', '--no-abbrev', '-z', '--diff-filter=AM']),
  );
  const staged = new Map<string, string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const blob = rawEntryBlob(raw[i] as string);
    if (blob !== undefined) staged.set(blob, raw[i + 1] as string);
  }
  for await (const { blob, content } of readBlobs(root, [...staged.keys()], maxBytes, stats)) {
    const filePath = staged.get(blob) as string;
    const diff = await git(root, [
      'diff',
      '--cached',
      '--no-renames',
      '--no-color',
      '--no-ext-diff',
      '-U0',
      '--',
      filePath,
    ]);
    yield { path: filePath, content, lines: addedLines(diff.toString('utf8')) };
  }
}

/** The new-side line ranges of a unified diff's hunks (`@@ -a,b +c,d @@`). */
export function addedLines(diff: string): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const match of diff.matchAll(/^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@/gm)) {
    const first = Number(match[1]);
    const count = match[2] === undefined ? 1 : Number(match[2]);
    if (count > 0) ranges.push([first, first + count - 1]);
  }
  return ranges;
}

async function* readBlobs(
  root: string,
  blobs: readonly string[],
  maxBytes: number,
  stats: SourceStats,
): AsyncGenerator<{ blob: string; content: string }> {
  if (blobs.length === 0) return;
  const sizes = (await git(root, ['cat-file', '--batch-check'], `${blobs.join('\n')}\n`)).toString('utf8');
  const wanted: Array<{ id: string; size: number }> = [];
  for (const line of sizes.split('\n')) {
    const [blob, type, size] = line.split(' ');
    if (blob === undefined || type !== 'blob') continue;
    if (Number(size) > maxBytes) stats.skippedLarge += 1;
    else wanted.push({ id: blob, size: Number(size) });
  }
  for (const group of groupsOf(wanted)) {
    const batch = await git(root, ['cat-file', '--batch'], `${group.map((blob) => blob.id).join('\n')}\n`);
    // Each object: "<oid> blob <size>\n<content>\n".
    let at = 0;
    while (at < batch.length) {
      const headerEnd = batch.indexOf(0x0a, at);
      const [blob, , size] = batch.subarray(at, headerEnd).toString('utf8').split(' ');
      const content = batch.subarray(headerEnd + 1, headerEnd + 1 + Number(size));
      at = headerEnd + 1 + Number(size) + 1;
      if (isBinary(content)) {
        stats.skippedBinary += 1;
        continue;
      }
      stats.scanned += 1;
      yield { blob: blob as string, content: content.toString('utf8') };
    }
  }
}

/** Blobs in groups of at most `BLOB_BATCH_BYTES`, so a large history is never held in memory at once. */
function groupsOf(blobs: ReadonlyArray<{ id: string; size: number }>): Array<Array<{ id: string; size: number }>> {
  const groups: Array<Array<{ id: string; size: number }>> = [];
  let current: Array<{ id: string; size: number }> = [];
  let bytes = 0;
  for (const blob of blobs) {
    if (current.length > 0 && bytes + blob.size > BLOB_BATCH_BYTES) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(blob);
    bytes += blob.size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** The new blob of a `--raw` entry (`:100644 100644 <old> <new> M`), unless it is a deletion or a submodule. */
function rawEntryBlob(entry: string): string | undefined {
  const [, newMode, , blob] = entry.slice(1).split(' ');
  if (blob === undefined || /^0+$/.test(blob) || newMode === '160000' || newMode === '120000') return undefined;
  return blob;
}

async function repositoryRoot(cwd: string, flag: string): Promise<string> {
  try {
    return (await git(cwd, ['rev-parse', '--show-toplevel'])).toString('utf8').trim();
  } catch {
    throw new CliError(`${flag} needs a git repository, and ${cwd} is not in one`, ExitCode.usage);
  }
}

async function git(cwd: string, args: readonly string[], input?: string): Promise<Buffer> {
  const child = run('git', ['-c', 'core.quotePath=false', ...args], {
    cwd,
    encoding: 'buffer',
    maxBuffer: GIT_OUTPUT_LIMIT,
  });
  if (input !== undefined) child.child.stdin?.end(input);
  return (await child).stdout;
}

function splitNul(output: Buffer): string[] {
  return output
    .toString('utf8')
    .split('\0')
    .filter((part) => part.length > 0);
}

function isBinary(content: Buffer): boolean {
  return content.subarray(0, BINARY_SNIFF_BYTES).includes(0);
}

function displayPath(relative: string): string {
  return relative.split(path.sep).join('/');
}
