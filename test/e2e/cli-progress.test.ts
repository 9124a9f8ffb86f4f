import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { api, COFFER_BIN, runCli, startServer, tempDir } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';

/**
 * Progress of long operations, as a script or a CI log sees it: stderr is no terminal here, so each change of state is
 * one plain line, with no control characters, and stdout is the command's answer alone (`-o json` parses).
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: the test is about control characters.
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f]/;

const lines = (text: string) => text.split('\n').slice(0, -1);

describe('coffer progress off a terminal', () => {
  const server = useServer();
  const cli = (args: string[]) =>
    runCli(args, { env: { COFFER_ADDR: server().address, COFFER_TOKEN: server().rootToken } });

  async function keyedSecret(): Promise<string> {
    const { address, rootToken } = server();
    const name = `progress/${randomUUID().slice(0, 8)}`;
    const value = '{"endpoint":"https://billing.example"}';
    expect((await api(address, rootToken, 'PUT', `/v1/secret/data/${name}`, { value })).status).toBe(200);
    const configured = await api(address, rootToken, 'PUT', `/v1/rotation/configs/${name}`, {
      type: 'api-key-coffer',
      settings: { overlapSeconds: 600 },
    });
    expect(configured.status).toBe(200);
    return name;
  }

  it('`secret rotate --wait` names the rotation, then the steps it sees in order, then the outcome', async () => {
    const name = await keyedSecret();
    const rotated = await cli(['secret', 'rotate', name, '--wait', '-o', 'json']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const rotation = JSON.parse(rotated.stdout) as { rotationId: string; status: string };
    expect(rotation.status).toBe('succeeded');

    expect(rotated.stderr).not.toMatch(CONTROL);
    const progress = lines(rotated.stderr);
    expect(progress[0]).toBe(`rotating ${name}: rotation ${rotation.rotationId} started`);
    expect(progress.at(-1)).toMatch(new RegExp(`^rotating ${name}: succeeded \\(\\d+\\.\\ds\\)$`));
    // The polls may see any of the steps (an API key rotates in milliseconds), but only forwards and once each.
    const steps = progress.slice(1, -1).map((line) => line.slice(`rotating ${name}: `.length));
    const order = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];
    expect(steps.every((step) => order.includes(step))).toBe(true);
    expect(steps).toEqual([...steps].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
    expect(new Set(steps).size).toBe(steps.length);
  });

  it('`secret rotate --wait` keeps the answer on stdout in table mode and the progress on stderr', async () => {
    const name = await keyedSecret();
    const rotated = await cli(['secret', 'rotate', name, '--wait']);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(new RegExp(`^rotated ${name}: version \\S+\\n$`));
    expect(rotated.stderr).toMatch(new RegExp(`^rotating ${name}: rotation \\S+ started\\n`));
  });

  it('a failed rotation ends its progress as failed, before the error on a line of its own', async () => {
    const { address, rootToken } = server();
    const name = `progress/${randomUUID().slice(0, 8)}`;
    expect((await api(address, rootToken, 'PUT', `/v1/secret/data/${name}`, { value: 'not json' })).status).toBe(200);
    expect(
      (
        await api(address, rootToken, 'PUT', `/v1/rotation/configs/${name}`, {
          type: 'api-key-coffer',
          settings: { overlapSeconds: 600 },
        })
      ).status,
    ).toBe(200);
    const rotated = await cli(['secret', 'rotate', name, '--wait']);
    expect(rotated.code).toBe(1);
    expect(rotated.stdout).toBe('');
    const progress = lines(rotated.stderr);
    expect(progress.at(-2)).toMatch(new RegExp(`^rotating ${name}: failed \\(\\d+\\.\\ds\\)$`));
    expect(progress.at(-1)).toMatch(/^error: rotation \S+ failed at createSecret: /);
  });

  it('`lease revoke --prefix` says what it revokes, then the count, and stdout stays JSON', async () => {
    const revoked = await cli(['lease', 'revoke', '--prefix', 'database/creds/none/', '-o', 'json']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(JSON.parse(revoked.stdout)).toEqual({ prefix: 'database/creds/none/', revoked: 0, failed: 0 });
    expect(revoked.stderr).not.toMatch(CONTROL);
    expect(lines(revoked.stderr)).toEqual([
      'revoking leases under database/creds/none/...',
      expect.stringMatching(/^revoking leases under database\/creds\/none\/: 0 revoked \(\d+\.\ds\)$/),
    ]);
  });

  it('`keyring rotate` says it runs, then how many data keys it re-wrapped; the summary stays on stdout', async () => {
    const { address, rootToken } = server();
    for (let i = 0; i < 3; i++) {
      expect((await api(address, rootToken, 'PUT', `/v1/secret/data/progress/k${i}`, { value: `v${i}` })).status).toBe(
        200,
      );
    }
    const json = await cli(['keyring', 'rotate', '-o', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const result = JSON.parse(json.stdout) as { keyId: string; rewrapped: number };
    expect(result.rewrapped).toBeGreaterThanOrEqual(3);
    expect(json.stderr).not.toMatch(CONTROL);
    expect(lines(json.stderr)).toEqual([
      'rotating the root key...',
      expect.stringMatching(
        new RegExp(`^rotating the root key: ${result.rewrapped} data keys re-wrapped \\(\\d+\\.\\ds\\)$`),
      ),
    ]);

    const table = await cli(['keyring', 'rotate']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^root key rotated to \S+; \d+ data keys re-wrapped\n$/);
  });

  it('--quiet drops the progress and keeps the answer', async () => {
    const quiet = await cli(['--quiet', 'lease', 'revoke', '--prefix', 'database/creds/none/', '-o', 'json']);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(JSON.parse(quiet.stdout)).toMatchObject({ revoked: 0 });
  });
});

describe('coffer server on SIGTERM', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function dataDir(): string {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    return path.join(tmp.dir, 'data');
  }

  it('exits 0 and says it stopped when signalled the moment it listens', async () => {
    const dir = dataDir();
    const server = await startServer(dir);
    const code = await server.stop('SIGTERM');
    expect(code).toBe(0);
    expect(server.child.signalCode).toBeNull();
    expect(server.output()).toContain('SIGTERM: finishing in-flight requests\nCoffer stopped\n');
  });

  it('exits 0 when signalled while still starting, and the node it initialised starts again', async () => {
    const dir = dataDir();
    const child: ChildProcess = spawn(process.execPath, [COFFER_BIN, 'server', '--data-dir', dir, '--port', '0'], {
      env: { ...process.env, COFFER_TOKEN: '', COFFER_PASSPHRASE: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
    let out = '';
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    // The root token is announced on the first start after the data directory is initialised and before the node
    // opens and listens: a signal now arrives in the middle of the start.
    await new Promise<void>((resolve) => {
      const look = (chunk: Buffer) => {
        out += chunk.toString('utf8');
        if (out.includes('Coffer initialised.')) {
          child.stdout!.off('data', look);
          child.kill('SIGTERM');
          resolve();
        }
      };
      child.stdout!.on('data', look);
    });
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(out).toContain('SIGTERM: finishing in-flight requests\n');
    expect(out).toMatch(/Coffer stopped\n$/);

    const again = await startServer(dir);
    cleanups.push(() => again.stop());
    expect((await api(again.address, again.rootToken, 'GET', '/v1/auth/token/lookup-self')).status).toBe(200);
  });
});
