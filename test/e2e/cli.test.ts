import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COFFER_BIN, runCli, tempDir } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';
import { waitFor } from '../support/wait-for.ts';

const current = useServer();

const cli = (args: string[], input?: string, token = current().rootToken) =>
  runCli(args, { env: { COFFER_ADDR: current().address, COFFER_TOKEN: token }, input });

const unique = (prefix: string) => `${prefix}/${randomUUID().slice(0, 8)}`;

describe('coffer CLI against a real server', () => {
  it('prints the root token once on first start and keeps it in a 0600 file', () => {
    expect(current().output()).toContain(current().rootToken);
    expect(statSync(path.join(current().dataDir, 'root-token')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(current().dataDir, 'keyring.json')).mode & 0o777).toBe(0o600);
  });

  it('creates, writes, reads, versions and stages a secret', async () => {
    const name = unique('app');
    expect(
      (await cli(['secret', 'create', name, '--no-value', '--description', 'db password', '--tag', 'team=core'])).code,
    ).toBe(0);
    const first = await cli(['secret', 'put', name, '-o', 'json'], 'first-value\n');
    expect(first.code).toBe(0);
    const v1 = JSON.parse(first.stdout).versionId as string;
    const second = await cli(['secret', 'put', name, '-o', 'json'], 'second-value');
    const v2 = JSON.parse(second.stdout).versionId as string;

    expect((await cli(['secret', 'get', name])).stdout).toBe('second-value\n');
    expect((await cli(['secret', 'get', name, '--stage', 'AWSPREVIOUS'])).stdout).toBe('first-value\n');
    expect((await cli(['secret', 'get', name, '--version-id', v1])).stdout).toBe('first-value\n');

    const versions = JSON.parse((await cli(['secret', 'versions', name, '-o', 'json'])).stdout);
    expect(versions.versions.map((v: { versionId: string }) => v.versionId)).toEqual([v2, v1]);

    // Moving AWSCURRENT back needs RemoveFromVersionId, exactly as in Secrets Manager.
    const refused = await cli(['secret', 'stage', name, 'AWSCURRENT', '--move-to', v1]);
    expect(refused.code).toBe(2);
    const moved = await cli(['secret', 'stage', name, 'AWSCURRENT', '--move-to', v1, '--remove-from', v2]);
    expect(moved.code).toBe(0);
    expect((await cli(['secret', 'get', name])).stdout).toBe('first-value\n');

    const described = JSON.parse((await cli(['secret', 'describe', name, '-o', 'json'])).stdout);
    expect(described.description).toBe('db password');
    expect(described.tags).toEqual({ team: 'core' });
    expect(described.versionIdsToStages[v1]).toContain('AWSCURRENT');
    expect(described.versionIdsToStages[v2]).toContain('AWSPREVIOUS');
  });

  it('stores binary values from a file byte for byte', async () => {
    const name = unique('bin');
    const tmp = tempDir();
    try {
      const file = path.join(tmp.dir, 'blob');
      const bytes = Buffer.from([0, 1, 2, 255, 10, 13, 10]);
      const { writeFileSync } = await import('node:fs');
      writeFileSync(file, bytes);
      expect((await cli(['secret', 'put', name, '--binary', '--file', file])).code).toBe(0);
      const got = JSON.parse((await cli(['secret', 'get', name, '-o', 'json'])).stdout);
      expect(Buffer.from(got.binary, 'base64').equals(bytes)).toBe(true);
    } finally {
      tmp.cleanup();
    }
  });

  it('check-and-set refuses a stale write with the conflict exit code', async () => {
    const name = unique('cas');
    const first = JSON.parse((await cli(['secret', 'put', name, '-o', 'json'], 'a')).stdout);
    await cli(['secret', 'put', name], 'b');
    const stale = await cli(['secret', 'put', name, '--if-version', first.versionId], 'c');
    expect(stale.code).toBe(5);
    expect(stale.stderr).toMatch(/conflict/);
    expect((await cli(['secret', 'put', name, '--if-absent'], 'd')).code).toBe(5);
    expect((await cli(['secret', 'get', name])).stdout).toBe('b\n');
  });

  it('lists secrets as folders and recursively', async () => {
    const root = unique('tree');
    for (const leaf of ['a', 'b/c', 'b/d/e']) await cli(['secret', 'put', `${root}/${leaf}`], 'x');
    const flat = await cli(['secret', 'list', `${root}/`]);
    expect(flat.stdout.trim().split('\n')).toEqual([`${root}/a`, `${root}/b/`]);
    const deep = await cli(['secret', 'list', `${root}/`, '--recursive']);
    expect(deep.stdout.trim().split('\n')).toEqual([`${root}/a`, `${root}/b/c`, `${root}/b/d/e`]);
  });

  it('soft-deletes, refuses reads while pending, and restores', async () => {
    const name = unique('del');
    await cli(['secret', 'put', name], 'keep-me');
    expect((await cli(['secret', 'delete', name, '--recovery-window-days', '3'])).code).toBe(2);
    expect((await cli(['secret', 'delete', name, '--recovery-window-days', '7'])).code).toBe(0);
    const pending = await cli(['secret', 'get', name]);
    expect(pending.code).toBe(2);
    expect(pending.stderr).toMatch(/deletion/);
    expect((await cli(['secret', 'restore', name])).code).toBe(0);
    expect((await cli(['secret', 'get', name])).stdout).toBe('keep-me\n');
    expect((await cli(['secret', 'delete', name, '--force'])).code).toBe(0);
    expect((await cli(['secret', 'get', name])).code).toBe(3);
  });

  it('enforces policies on child tokens and explains decisions', async () => {
    const team = unique('team').replace('/', '-');
    const policy = JSON.stringify({
      rules: [{ path: `secrets/${team}/*`, capabilities: ['read', 'create', 'update'] }],
    });
    expect((await cli(['policy', 'put', team], policy)).code).toBe(0);
    expect((await cli(['policy', 'list'])).stdout).toContain(team);
    const created = JSON.parse((await cli(['token', 'create', '--policy', team, '--ttl', '1h', '-o', 'json'])).stdout);
    const child = created.token as string;

    expect((await cli(['secret', 'put', `${team}/db`], 'ok', child)).code).toBe(0);
    expect((await cli(['secret', 'get', `${team}/db`], undefined, child)).stdout).toBe('ok\n');
    const denied = await cli(['secret', 'get', 'other/db'], undefined, child);
    expect(denied.code).toBe(4);

    const explain = await cli([
      'policy',
      'test',
      '--path',
      `secrets/${team}/db`,
      '--capability',
      'delete',
      '--policy',
      team,
    ]);
    expect(explain.code).toBe(4);
    expect(explain.stdout).toMatch(/DENIED/);
    const allowed = await cli([
      'policy',
      'test',
      '--path',
      `secrets/${team}/db`,
      '--capability',
      'read',
      '--policy',
      team,
    ]);
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toContain(`secrets/${team}/*`);

    const lookup = JSON.parse((await cli(['token', 'lookup', '-o', 'json'], undefined, child)).stdout);
    expect(lookup.policies).toEqual([team]);
    expect((await cli(['token', 'renew', '--increment', '30m'], undefined, child)).code).toBe(0);
    expect((await cli(['token', 'revoke', '--accessor', lookup.accessor])).code).toBe(0);
    expect((await cli(['secret', 'get', `${team}/db`], undefined, child)).code).toBe(4);
  });

  it('verifies the audit log and hashes values for search', async () => {
    const name = unique('audited');
    await cli(['secret', 'put', name], 'canary-for-hash');
    const hash = await cli(['audit', 'hash'], 'canary-for-hash');
    expect(hash.stdout.trim()).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    const tail = await cli(['audit', 'tail', '-n', '200', '--data-dir', current().dataDir]);
    expect(tail.stdout).toContain(hash.stdout.trim());
    expect(tail.stdout).not.toContain('canary-for-hash');
    const verify = await cli(['audit', 'verify', '--data-dir', current().dataDir]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/chain intact/);
  });

  it('uses distinct exit codes for usage, not found, denied and unreachable', async () => {
    expect((await cli(['secret', 'get'])).code).toBe(2);
    expect((await cli(['secret', 'get', unique('missing')])).code).toBe(3);
    expect((await cli(['secret', 'get', unique('x')], undefined, 'cft_not-a-token')).code).toBe(4);
    const unreachable = await runCli(['secret', 'get', 'x'], {
      env: { COFFER_ADDR: 'http://127.0.0.1:9', COFFER_TOKEN: 't' },
    });
    expect(unreachable.code).toBe(6);
  });
});

/** Runs `coffer` in `cwd` with `env` added (and no inherited COFFER_* configuration); resolves when it exits. */
function cofferIn(cwd: string, args: string[], env: Record<string, string>) {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('COFFER_')));
  const child = spawn(process.execPath, [COFFER_BIN, ...args], {
    cwd,
    env: { ...inherited, COFFER_EGRESS_ALLOW: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

describe('coffer init and server take their configuration from COFFER_* when no flag is given', () => {
  it('init puts the keyring and the root token in COFFER_DATA_DIR, not in ./.coffer', async () => {
    const tmp = tempDir();
    try {
      const cwd = path.join(tmp.dir, 'cwd');
      mkdirSync(cwd);
      const dataDir = path.join(tmp.dir, 'from-env');
      const init = cofferIn(cwd, ['init'], { COFFER_DATA_DIR: dataDir });
      expect(await init.exited).toBe(0);
      expect(init.output()).toContain(path.join(dataDir, 'root-token'));
      expect(existsSync(path.join(dataDir, 'keyring.json'))).toBe(true);
      expect(existsSync(path.join(cwd, '.coffer'))).toBe(false);

      // A flag still wins over the environment.
      const flagged = path.join(tmp.dir, 'from-flag');
      const second = cofferIn(cwd, ['init', '--data-dir', flagged], { COFFER_DATA_DIR: dataDir });
      expect(await second.exited).toBe(0);
      expect(existsSync(path.join(flagged, 'keyring.json'))).toBe(true);
    } finally {
      tmp.cleanup();
    }
  });

  it('server listens on COFFER_HOST and COFFER_PORT and keeps its data and audit log in COFFER_DATA_DIR', async () => {
    const tmp = tempDir();
    try {
      const cwd = path.join(tmp.dir, 'cwd');
      mkdirSync(cwd);
      const dataDir = path.join(tmp.dir, 'from-env');
      const env = { COFFER_DATA_DIR: dataDir, COFFER_HOST: '127.0.0.2', COFFER_PORT: '0' };
      const server = cofferIn(cwd, ['server'], env);
      try {
        const listening = await waitFor(
          'the server to listen',
          () => {
            if (server.child.exitCode !== null) throw new Error(`server exited with ${server.child.exitCode}`);
            return /listening on (http:\/\/\S+) \(data: (.+)\)/.test(server.output()) && server.output();
          },
          // Bounded by the test: a loaded machine takes its time to start a node.
          { timeoutMs: 60_000, detail: server.output },
        );
        expect(listening).toMatch(/listening on http:\/\/127\.0\.0\.2:\d+ /);
        expect(listening).toContain(`(data: ${dataDir})`);
      } finally {
        server.child.kill('SIGTERM');
        await server.exited;
      }
      expect(existsSync(path.join(dataDir, 'root-token'))).toBe(true);
      expect(existsSync(path.join(cwd, '.coffer'))).toBe(false);
      // `audit verify` finds the same log through COFFER_DATA_DIR alone.
      const verify = cofferIn(cwd, ['audit', 'verify'], { COFFER_DATA_DIR: dataDir });
      expect(await verify.exited).toBe(0);
      expect(verify.output()).toMatch(/chain intact/);
    } finally {
      tmp.cleanup();
    }
  });
});
