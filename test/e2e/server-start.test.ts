import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServer, tempDir } from '../support/server-process.ts';

describe('coffer server start', () => {
  // A newcomer's first start should print the root token and the address, not runtime warnings (the AWS SDK warns
  // once per process about Node versions it will stop supporting; on the supported Node it must stay quiet).
  it('prints no process warning on a first start or a restart', async () => {
    const { dir, cleanup } = tempDir();
    try {
      for (const start of ['first', 'restart']) {
        const server = await startServer(path.join(dir, 'data'));
        await server.stop();
        const output = server.output();
        expect(output, start).toContain('listening on');
        expect(output, start).not.toMatch(/Warning|AWS SDK/);
      }
    } finally {
      cleanup();
    }
  });
});
