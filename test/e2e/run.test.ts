import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { api, COFFER_BIN, runCli, tempDir } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';
import { waitFor } from '../support/wait-for.ts';

const current = useServer();

const unique = (prefix: string) => `${prefix}/${randomUUID().slice(0, 8)}`;

async function putSecret(name: string, value: string): Promise<string> {
  const put = await api(current().address, current().rootToken, 'PUT', `/v1/secret/data/${name}`, { value });
  expect(put.status).toBe(200);
  return put.body.versionId as string;
}

const env = (extra: Record<string, string> = {}) => ({
  COFFER_ADDR: current().address,
  COFFER_TOKEN: current().rootToken,
  ...extra,
});

describe('coffer run', () => {
  let tmp: { dir: string; cleanup: () => void };
  const started: ChildProcess[] = [];
  beforeEach(() => {
    tmp = tempDir('coffer-run-');
  });
  afterEach(() => {
    for (const child of started.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    tmp.cleanup();
  });

  /** `coffer run` as a child of the test, so its pid (and /proc entry) is known. */
  function spawnRun(args: string[], extra: Record<string, string>) {
    const child = spawn(process.execPath, [COFFER_BIN, 'run', ...args], {
      env: { ...process.env, ...env(extra) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(child);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, exited, stderr: () => stderr };
  }

  it('gives the child the value in its environment only, without the Coffer token', async () => {
    const name = unique('run');
    const value = `s3cr3t-${randomUUID()}`;
    await putSecret(name, value);
    const out = path.join(tmp.dir, 'out');
    const result = await runCli(
      [
        'run',
        '--secret',
        `DB_PASSWORD=${name}`,
        '--',
        'sh',
        '-c',
        'printf %s "$DB_PASSWORD" > "$OUT"; if [ -n "$COFFER_TOKEN" ]; then echo set; else echo unset; fi > "$OUT.token"',
      ],
      { env: env({ OUT: out }) },
    );
    expect(result.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(value);
    expect(readFileSync(`${out}.token`, 'utf8')).toBe('unset\n');
    expect(result.stdout + result.stderr).not.toContain(value);
  });

  it('keeps the value out of its own argv and environment while the child runs', async () => {
    const name = unique('run');
    const value = `s3cr3t-${randomUUID()}`;
    await putSecret(name, value);
    const ready = path.join(tmp.dir, 'ready');
    const go = path.join(tmp.dir, 'go');
    const run = spawnRun(
      [
        '--secret',
        `DB=${name}`,
        '--',
        'sh',
        '-c',
        'printf %s "$DB" > "$READY"; while [ ! -f "$GO" ]; do sleep 0.05; done',
      ],
      { READY: ready, GO: go },
    );
    await waitFor('the child to start', () => existsSync(ready) && readFileSync(ready, 'utf8').length > 0);
    expect(readFileSync(ready, 'utf8')).toBe(value);
    const pid = run.child.pid!;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    expect(cmdline).toContain('run');
    expect(cmdline).not.toContain(value);
    expect(environ).not.toContain(value);
    writeFileSync(go, '');
    expect(await run.exited).toBe(0);
  });

  it('exits with the child’s exit code, or 128 + the signal that killed it', async () => {
    const name = unique('run');
    await putSecret(name, 'x');
    expect((await runCli(['run', '--secret', `A=${name}`, '--', 'sh', '-c', 'exit 7'], { env: env() })).code).toBe(7);
    const killed = await runCli(['run', '--secret', `A=${name}`, '--', 'sh', '-c', 'kill -TERM $$'], { env: env() });
    expect(killed.code).toBe(143);
  }, 120_000);

  it('forwards SIGTERM to the child', async () => {
    const name = unique('run');
    await putSecret(name, 'x');
    const ready = path.join(tmp.dir, 'ready');
    const marker = path.join(tmp.dir, 'marker');
    const run = spawnRun(
      [
        '--secret',
        `A=${name}`,
        '--',
        'sh',
        '-c',
        'trap \'echo got-term > "$MARKER"; exit 0\' TERM; touch "$READY"; while :; do sleep 0.05; done',
      ],
      { READY: ready, MARKER: marker },
    );
    await waitFor('the child to start', () => existsSync(ready));
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(readFileSync(marker, 'utf8')).toBe('got-term\n');
  });

  it('injects one field of a JSON secret, and two fields of one secret come from one version', async () => {
    const name = unique('run');
    await putSecret(name, JSON.stringify({ username: 'app', password: 'pw-1', port: 5432 }));
    const out = path.join(tmp.dir, 'out');
    const result = await runCli(
      [
        'run',
        '--secret',
        `U=${name}#username`,
        '--secret',
        `P=${name}#password@AWSCURRENT`,
        '--secret',
        `PORT=${name}#port`,
        '--',
        'sh',
        '-c',
        'printf "%s:%s:%s" "$U" "$P" "$PORT" > "$OUT"',
      ],
      { env: env({ OUT: out }) },
    );
    expect(result.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('app:pw-1:5432');
  });

  it('reads another staging label with @stage', async () => {
    const name = unique('run');
    await putSecret(name, 'old');
    await putSecret(name, 'new');
    const out = path.join(tmp.dir, 'out');
    const result = await runCli(
      ['run', '--secret', `V=${name}@AWSPREVIOUS`, '--', 'sh', '-c', 'printf %s "$V" > "$OUT"'],
      { env: env({ OUT: out }) },
    );
    expect(result.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('old');
  });

  it('does not start the command when a secret or a field is missing', async () => {
    const name = unique('run');
    await putSecret(name, JSON.stringify({ password: 'hunter2' }));
    const marker = path.join(tmp.dir, 'spawned');
    const command = ['--', 'sh', '-c', 'touch "$MARKER"'];
    const missing = await runCli(['run', '--secret', `A=${name}-nope`, ...command], { env: env({ MARKER: marker }) });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/not found/);
    const field = await runCli(['run', '--secret', `A=${name}#user`, ...command], { env: env({ MARKER: marker }) });
    expect(field.code).toBe(3);
    expect(field.stderr).toContain(`secret ${name} has no field "user"`);
    expect(field.stderr).not.toContain('hunter2');
    const denied = await runCli(['run', '--secret', `A=${name}`, ...command], {
      env: env({ MARKER: marker, COFFER_TOKEN: 'cft_invalid' }),
    });
    expect(denied.code).toBe(4);
    expect(existsSync(marker)).toBe(false);
  }, 120_000);

  it('rejects malformed bindings as usage errors', async () => {
    const bad = await runCli(['run', '--secret', 'not-a-binding', '--', 'true'], { env: env() });
    expect(bad.code).toBe(2);
    const twice = await runCli(['run', '--secret', 'A=x', '--secret', 'A=y', '--', 'true'], { env: env() });
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('--secret A is given twice');
  }, 120_000);

  it('reports a command that does not exist with status 127', async () => {
    const name = unique('run');
    await putSecret(name, 'x');
    const result = await runCli(['run', '--secret', `A=${name}`, '--', 'coffer-no-such-command'], { env: env() });
    expect(result.code).toBe(127);
    expect(result.stderr).toContain('cannot run coffer-no-such-command: ENOENT');
  });
});
