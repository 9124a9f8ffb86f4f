import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, runCli, startServer, tempDir } from '../support/server-process.ts';

/**
 * One server per data dir (issue 15): a second `coffer server` on a dir in use exits at start, naming the dir, and the
 * first keeps serving; the lock dies with its process, so a server SIGKILLed mid-flight restarts at once.
 */
describe('coffer server: one server per data dir', () => {
  it('refuses a second server on the same data dir, and restarts at once after a SIGKILL', async () => {
    const { dir, cleanup } = tempDir();
    const dataDir = path.join(dir, 'data');
    let first: Awaited<ReturnType<typeof startServer>> | undefined;
    let third: Awaited<ReturnType<typeof startServer>> | undefined;
    let intruder: Awaited<ReturnType<typeof startServer>> | undefined;
    try {
      first = await startServer(dataDir);
      const written = await api(first.address, first.rootToken, 'PUT', '/v1/secret/data/locked', { value: 'v1' });
      expect(written.status).toBe(200);

      // Started as the first was: it must exit before listening (were it to listen, it would be stopped in finally).
      const second = await startServer(dataDir).then(
        (server) => {
          intruder = server;
          return undefined;
        },
        (err: unknown) => (err as Error).message,
      );
      expect(second).toContain('server exited with 1 before listening');
      expect(second).toContain(`error: the data dir ${dataDir} is in use by another coffer server`);

      // `coffer init` on the dir in use is refused the same way; offline reads of the audit log still work.
      const init = await runCli(['init', '--data-dir', dataDir]);
      expect(init.code).not.toBe(0);
      expect(init.stderr).toContain('is in use by another coffer server');
      const verify = await runCli(['audit', 'verify', '--data-dir', dataDir]);
      expect(verify.stderr).toBe('');
      expect([0, 7]).toContain(verify.code);

      const stillServing = await api(first.address, first.rootToken, 'GET', '/v1/secret/data/locked');
      expect(stillServing.status).toBe(200);
      expect(stillServing.body.value).toBe('v1');

      expect(await first.stop('SIGKILL')).toBeNull();
      first = undefined;
      third = await startServer(dataDir);
      const afterKill = await api(third.address, third.rootToken, 'GET', '/v1/secret/data/locked');
      expect(afterKill.status).toBe(200);
      expect(afterKill.body.value).toBe('v1');

      // A graceful stop lets go too: the next start on the dir serves.
      expect(await third.stop()).toBe(0);
      third = await startServer(dataDir);
      expect((await api(third.address, third.rootToken, 'GET', '/v1/secret/data/locked')).status).toBe(200);
    } finally {
      await first?.stop('SIGKILL');
      await third?.stop('SIGKILL');
      await intruder?.stop('SIGKILL');
      cleanup();
    }
  }, 60_000);
});
