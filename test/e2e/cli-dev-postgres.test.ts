import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COFFER_BIN, runCli, type ServerProcess, startServer, tempDir } from '../support/server-process.ts';
import { waitFor } from '../support/wait-for.ts';

/** `coffer dev postgres` as a user runs it: in the foreground, until a signal. */
interface DevPostgres {
  readonly child: ChildProcess;
  output(): { stdout: string; stderr: string };
  /** Resolves to the exit code. */
  readonly exited: Promise<number | null>;
}

function startDevPostgres(args: readonly string[]): DevPostgres {
  const child = spawn(process.execPath, [COFFER_BIN, 'dev', 'postgres', ...args], {
    env: { ...process.env, COFFER_TOKEN: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

/** Waits for the ready output (the command prints nothing to stdout before), failing early if it exits first. */
async function ready(dev: DevPostgres, pattern: RegExp): Promise<RegExpExecArray> {
  let exited = false;
  void dev.exited.then(() => (exited = true));
  return waitFor(
    'coffer dev postgres to be ready',
    () => {
      if (exited) throw new Error(`coffer dev postgres exited: ${JSON.stringify(dev.output())}`);
      return pattern.exec(dev.output().stdout) ?? undefined;
    },
    { timeoutMs: 60_000, detail: () => JSON.stringify(dev.output()) },
  );
}

async function query(config: pg.ClientConfig, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ host: '127.0.0.1', database: 'postgres', ...config });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.query(sql)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

type Admin = { username: string; password: string };

let tmp: { dir: string; cleanup: () => void };
let dataDir: string;
let adminFile: string;
let running: DevPostgres | undefined;
let server: ServerProcess | undefined;

beforeAll(() => {
  tmp = tempDir('coffer-dev-pg-');
  // When the tests run as root, PostgreSQL runs as the postgres user, which must pass through the temp dir (0700).
  chmodSync(tmp.dir, 0o755);
  dataDir = path.join(tmp.dir, 'pg');
  adminFile = path.join(dataDir, 'admin.json');
});

afterAll(async () => {
  await server?.stop();
  if (running !== undefined && running.child.exitCode === null) {
    running.child.kill('SIGTERM');
    await running.exited;
  }
  tmp?.cleanup();
});

/** What the first run of `coffer dev postgres` on a new directory did, recorded once for the file's tests. */
interface FirstRun {
  match: RegExpExecArray;
  output: { stdout: string; stderr: string };
  admin: Admin;
  adminMode: number;
  passwordFileLeft: boolean;
  serverVersion: string;
  defaultPasswordRefused: boolean;
  exitCode: number | null;
  pidFileLeft: boolean;
  afterStop: unknown;
}

/**
 * One cluster for the file, made here: the first run is what the first test checks, and the cluster it leaves is what
 * the second starts again (no test relies on another having run).
 */
let first: FirstRun;
beforeAll(async () => {
  const dev = startDevPostgres(['--port', '0', '--data-dir', dataDir]);
  running = dev;
  const match = await ready(dev, /^PostgreSQL (\d+\.\d+) listening on 127\.0\.0\.1:(\d+) \(data: (.+)\)$/m);
  const port = Number(match[2]);
  const admin = JSON.parse(readFileSync(adminFile, 'utf8')) as Admin;
  const [row] = (await query({ port, user: admin.username, password: admin.password }, 'SHOW server_version')) as {
    server_version: string;
  }[];
  const defaultPasswordRefused = await query({ port, user: 'postgres', password: 'password' }, 'SELECT 1').then(
    () => false,
    () => true,
  );
  const adminMode = statSync(adminFile).mode & 0o777;
  const passwordFileLeft = existsSync(path.join(dataDir, '.initdb-password'));
  dev.child.kill('SIGTERM');
  const exitCode = await dev.exited;
  const afterStop = await query({ port, user: admin.username, password: admin.password }, 'SELECT 1').then(
    () => 'connected',
    (err: unknown) => err,
  );
  first = {
    match,
    output: dev.output(),
    admin,
    adminMode,
    passwordFileLeft,
    serverVersion: row!.server_version,
    defaultPasswordRefused,
    exitCode,
    pidFileLeft: existsSync(path.join(dataDir, 'data', 'postmaster.pid')),
    afterStop,
  };
}, 120_000);

describe('coffer dev postgres', () => {
  it('creates a cluster and admin.json (0600), says where once ready, and stops cleanly on SIGTERM', () => {
    const { match, output, admin } = first;
    expect(match[3]).toBe(dataDir);
    expect(output.stdout).toContain(`admin credential: ${adminFile} (mode 0600)\n`);
    expect(first.adminMode).toBe(0o600);
    expect(Object.keys(admin).sort()).toEqual(['password', 'username']);
    expect(admin.username).toBe('postgres');
    expect(output.stdout + output.stderr).not.toContain(admin.password);
    expect(first.passwordFileLeft).toBe(false);
    expect(first.serverVersion).toBe(match[1]);
    // Loopback only: the superuser's password is the one in admin.json, not a default.
    expect(first.defaultPasswordRefused).toBe(true);

    expect(first.exitCode).toBe(0);
    expect(output.stderr).toBe('SIGTERM: stopping PostgreSQL\n');
    expect(first.pidFileLeft).toBe(false);
    expect(String(first.afterStop)).toMatch(/ECONNREFUSED/);
  });

  it('reuses the cluster and its password, and Coffer issues working database users from it', async () => {
    running = startDevPostgres(['--port', '0', '--data-dir', dataDir, '--output', 'json']);
    const match = await ready(running, /^\{[\s\S]*\n\}\n/);
    const shown = JSON.parse(match[0]) as { port: number; host: string; adminFile: string; initialised: boolean };
    expect(shown).toMatchObject({ host: '127.0.0.1', adminFile, initialised: false });
    expect(readFileSync(adminFile, 'utf8')).toBe(`${JSON.stringify(first.admin)}\n`);

    // A second one on the same port is refused before it creates anything.
    const other = path.join(tmp.dir, 'other');
    const clash = await runCli(['dev', 'postgres', '--port', String(shown.port), '--data-dir', other]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toBe(
      `error: 127.0.0.1:${shown.port} is already in use (another PostgreSQL?): pass another --port, or --port 0 for a free one\n`,
    );
    expect(existsSync(other)).toBe(false);

    // The walkthrough: the node may reach this PostgreSQL only.
    server = await startServer(path.join(tmp.dir, 'coffer'), { COFFER_EGRESS_ALLOW: `127.0.0.1:${shown.port}` });
    const env = { COFFER_ADDR: server.address, COFFER_TOKEN: server.rootToken };
    const cli = async (args: string[]) => {
      const out = await runCli(args, { env });
      expect(out.code, out.stderr).toBe(0);
      return out.stdout;
    };
    await cli(['secret', 'create', 'db/admin', '--file', adminFile]);
    await cli([
      'db',
      'config',
      'put',
      'dev',
      '--host',
      '127.0.0.1',
      '--port',
      String(shown.port),
      '--database',
      'postgres',
      '--admin-secret',
      'db/admin',
    ]);
    await cli(['db', 'role', 'put', 'app', '--db', 'dev', '--default-ttl', '1h']);
    const creds = JSON.parse(await cli(['creds', 'get', 'db/app', '-o', 'json'])) as Admin;
    expect(creds.username).not.toBe('postgres');
    const [who] = (await query(
      { port: shown.port, user: creds.username, password: creds.password },
      'SELECT current_user',
    )) as { current_user: string }[];
    expect(who!.current_user).toBe(creds.username);

    running.child.kill('SIGINT');
    expect(await running.exited).toBe(0);
  });

  it('refuses a directory that is not its own, touching nothing in it', async () => {
    const foreign = path.join(tmp.dir, 'foreign');
    mkdirSync(foreign);
    writeFileSync(path.join(foreign, 'notes.txt'), 'mine');
    const out = await runCli(['dev', 'postgres', '--port', '0', '--data-dir', foreign]);
    expect(out.code).toBe(2);
    expect(out.stderr).toBe(
      `error: ${foreign} is not a coffer dev postgres directory (it has no admin.json and data/PG_VERSION): pass a ` +
        'new or empty --data-dir\n',
    );
    expect(out.stdout).toBe('');
    expect(readFileSync(path.join(foreign, 'notes.txt'), 'utf8')).toBe('mine');
  });
});
