import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, startServer, tempDir } from '../support/server-process.ts';
import { waitFor } from '../support/wait-for.ts';

/** Writes until `stopAfter` acknowledgements, with `concurrency` writers in flight; returns the acknowledged names. */
async function writeStream(address: string, token: string, concurrency: number, stopAfter: number) {
  const acknowledged: string[] = [];
  let next = 0;
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const name = `crash/item-${next++}`;
      try {
        const res = await api(address, token, 'PUT', `/v1/secret/data/${name}`, { value: `value-of-${name}` });
        if (res.status === 200) acknowledged.push(name);
        if (acknowledged.length >= stopAfter) stop = true;
      } catch {
        return; // the server died under us: everything after this point was never acknowledged
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return { acknowledged, done: Promise.all(workers), halt: () => (stop = true) };
}

describe('Crash safety', () => {
  it('keeps every acknowledged write after SIGKILL and reopens cleanly', async () => {
    const tmp = tempDir();
    const dataDir = path.join(tmp.dir, 'data');
    const first = await startServer(dataDir);
    const stream = await writeStream(first.address, first.rootToken, 8, 1_000_000);
    // Kill in the middle of the stream, while writes are in flight.
    await waitFor('150 acknowledged writes', () => stream.acknowledged.length >= 150, { intervalMs: 10 });
    await first.stop('SIGKILL');
    stream.halt();
    await stream.done;
    const acknowledged = [...stream.acknowledged];
    expect(acknowledged.length).toBeGreaterThanOrEqual(150);

    const second = await startServer(dataDir);
    try {
      for (const name of acknowledged) {
        const read = await api(second.address, second.rootToken, 'GET', `/v1/secret/data/${name}`);
        expect(read.status, name).toBe(200);
        expect(read.body.value).toBe(`value-of-${name}`);
      }
      // The audit chain survived too (a torn last line, if any, is recovered and recorded).
      const verify = await api(second.address, second.rootToken, 'GET', '/v1/sys/audit/verify');
      expect(verify.body.ok).toBe(true);
    } finally {
      await second.stop();
      tmp.cleanup();
    }
  });

  it('finishes in-flight writes on SIGTERM and exits 0', async () => {
    const tmp = tempDir();
    const dataDir = path.join(tmp.dir, 'data');
    const first = await startServer(dataDir);
    const stream = await writeStream(first.address, first.rootToken, 8, 1_000_000);
    await waitFor('50 acknowledged writes', () => stream.acknowledged.length >= 50, { intervalMs: 10 });
    const code = await first.stop('SIGTERM');
    stream.halt();
    await stream.done;
    expect(code).toBe(0);
    const second = await startServer(dataDir);
    try {
      for (const name of stream.acknowledged) {
        expect((await api(second.address, second.rootToken, 'GET', `/v1/secret/data/${name}`)).status, name).toBe(200);
      }
    } finally {
      await second.stop();
      tmp.cleanup();
    }
  });
});
