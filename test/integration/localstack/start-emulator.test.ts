import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
// @ts-expect-error -- plain ESM script shared with users; no type declarations.
import { answers, EMULATOR_PORT, startEmulator } from '../../../localstack/start-emulator.mjs';

interface Emulator {
  readonly endpoint: string;
  readonly started: boolean;
  stop(): Promise<void>;
}

const start = startEmulator as (options?: { port?: number; provided?: boolean }) => Promise<Emulator>;
const answering = answers as (endpoint: string) => Promise<boolean>;

describe('startEmulator', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('gives each run its own moto on a free loopback port, and stopping one leaves the other running', async () => {
    const [first, second] = await Promise.all([start({ provided: false }), start({ provided: false })]);
    try {
      const ports = [first, second].map((e) => new URL(e.endpoint));
      for (const url of ports) {
        expect(url.hostname).toBe('127.0.0.1');
        expect(Number(url.port)).not.toBe(EMULATOR_PORT);
      }
      expect(ports[0]!.port).not.toBe(ports[1]!.port);
      expect([first.started, second.started]).toEqual([true, true]);

      await first.stop();
      expect(await answering(first.endpoint)).toBe(false);
      expect(await answering(second.endpoint)).toBe(true);
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  });

  it('uses AWS_ENDPOINT_URL when set, and never stops what it did not start', async () => {
    // Any HTTP listener stands in for a provided emulator: only its answering is looked at.
    const provided = createServer((_req, res) => res.end());
    await new Promise<void>((resolve) => provided.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(provided.address() as AddressInfo).port}`;
    try {
      vi.stubEnv('AWS_ENDPOINT_URL', endpoint);
      const emulator = await start();
      expect(emulator).toMatchObject({ endpoint, started: false });
      await emulator.stop();
      expect(await answering(endpoint)).toBe(true);
    } finally {
      provided.closeAllConnections();
      await new Promise((resolve) => provided.close(resolve));
    }
  });
});
