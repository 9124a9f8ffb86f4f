import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { api, runCli, type ServerProcess, startServer, tempDir } from '../support/server-process.ts';
import { signedFetch } from '../support/sigv4.ts';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function dataDir(): string {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  return path.join(tmp.dir, 'data');
}

async function serve(dir: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const server = await startServer(dir, env);
  cleanups.push(() => server.stop());
  return server;
}

describe('Node lifecycle', () => {
  it('coffer init creates the root token once; the server then starts without printing it', async () => {
    const dir = dataDir();
    const init = await runCli(['init', '--data-dir', dir]);
    expect(init.code).toBe(0);
    const token = readFileSync(path.join(dir, 'root-token'), 'utf8').trim();
    expect(init.stdout).toContain(token);
    expect((await runCli(['init', '--data-dir', dir])).code).toBe(5);
    const server = await serve(dir);
    expect(server.output()).not.toContain(token);
    expect((await api(server.address, token, 'GET', '/v1/auth/token/lookup-self')).body.policies).toEqual(['root']);
  });

  it('a passphrase-sealed keyring opens only with the right passphrase', async () => {
    const dir = dataDir();
    const sealed = { COFFER_PASSPHRASE: 'correct horse battery staple' };
    const first = await serve(dir, sealed);
    expect((await api(first.address, first.rootToken, 'PUT', '/v1/secret/data/sealed/a', { value: 'x' })).status).toBe(
      200,
    );
    await first.stop();

    await expect(startServer(dir)).rejects.toThrow(/sealed.*COFFER_PASSPHRASE|COFFER_PASSPHRASE.*sealed/is);
    await expect(startServer(dir, { COFFER_PASSPHRASE: 'wrong passphrase!' })).rejects.toThrow(/sealed/i);
    const again = await serve(dir, sealed);
    const read = await api(again.address, again.rootToken, 'GET', '/v1/secret/data/sealed/a');
    expect(read.body.value).toBe('x');
  });

  it('rotates the root key, re-wraps every data key and retires the old key', async () => {
    const dir = dataDir();
    const server = await serve(dir);
    for (let i = 0; i < 5; i++) {
      await api(server.address, server.rootToken, 'PUT', `/v1/secret/data/rot/s${i}`, { value: `v${i}` });
    }
    const accessKey = (
      await api(server.address, server.rootToken, 'POST', '/v1/sys/access-keys', {
        principal: 'ops',
        policies: ['root'],
      })
    ).body as unknown as { accessKeyId: string; secretAccessKey: string };
    const before = JSON.parse(readFileSync(path.join(dir, 'keyring.json'), 'utf8')) as { primary: string };
    const rotate = await runCli(['keyring', 'rotate', '-o', 'json'], {
      env: { COFFER_ADDR: server.address, COFFER_TOKEN: server.rootToken },
    });
    expect(rotate.code).toBe(0);
    const result = JSON.parse(rotate.stdout) as { keyId: string; rewrapped: number; retired: string[] };
    expect(result.rewrapped).toBe(6); // five secret versions and one access key
    expect(result.retired).toEqual([before.primary]);
    const after = JSON.parse(readFileSync(path.join(dir, 'keyring.json'), 'utf8')) as {
      primary: string;
      keys: unknown[];
    };
    expect(after.primary).toBe(result.keyId);
    expect(after.keys).toHaveLength(1);
    await server.stop();
    // After a restart nothing is cached: every value must unwrap under the new root key alone.
    const restarted = await serve(dir);
    for (let i = 0; i < 5; i++) {
      const read = await api(restarted.address, restarted.rootToken, 'GET', `/v1/secret/data/rot/s${i}`);
      expect(read.body.value).toBe(`v${i}`);
    }
    const signed = await signedFetch(restarted.address, accessKey, 'GET', '/v1/secret/data/rot/s0');
    expect(signed.body.value).toBe('v0');
  });

  it('leaves excluded operations out of the audit log and records everything else', async () => {
    const dir = dataDir();
    const server = await serve(dir, { COFFER_AUDIT_EXCLUDE: 'sys.health' });
    const health = await api(server.address, undefined, 'GET', '/v1/sys/health');
    const read = await api(server.address, server.rootToken, 'GET', '/v1/secret/data/absent');
    const log = readFileSync(path.join(dir, 'audit', 'audit.log'), 'utf8');
    expect(log).not.toContain(health.requestId!);
    expect(log).toContain(read.requestId!);
  });
});
