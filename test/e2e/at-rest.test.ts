import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, startServer, tempDir } from '../support/server-process.ts';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : [full];
  });
}

describe('No plaintext at rest', () => {
  it('never writes a stored value to any file under the data directory', async () => {
    const tmp = tempDir();
    const dataDir = path.join(tmp.dir, 'data');
    const server = await startServer(dataDir);
    const canary = `CANARY-${randomBytes(12).toString('hex')}`;
    const binaryCanary = randomBytes(48);
    try {
      const write = (name: string, body: unknown) =>
        api(server.address, server.rootToken, 'PUT', `/v1/secret/data/${name}`, body);
      expect((await write('canary/string', { value: canary })).status).toBe(200);
      expect((await write('canary/binary', { binary: binaryCanary.toString('base64') })).status).toBe(200);
      for (let i = 0; i < 20; i++) await write(`canary/many-${i}`, { value: `${canary}-${i}` });
      const read = await api(server.address, server.rootToken, 'GET', '/v1/secret/data/canary/string');
      expect(read.body.value).toBe(canary);
    } finally {
      // A clean stop checkpoints the WAL into the main database file, so both places get scanned.
      await server.stop();
    }
    const files = filesUnder(dataDir);
    expect(files.some((f) => f.endsWith('coffer.db'))).toBe(true);
    expect(files.some((f) => f.endsWith('audit.log'))).toBe(true);
    const needles = [
      Buffer.from(canary, 'utf8'),
      Buffer.from(canary, 'utf16le'),
      Buffer.from(Buffer.from(canary).toString('base64').slice(0, 16)),
      binaryCanary,
      Buffer.from(binaryCanary.toString('base64').slice(0, 16)),
    ];
    for (const file of files) {
      if (!statSync(file).isFile()) continue;
      const bytes = readFileSync(file);
      for (const needle of needles) expect(bytes.includes(needle), `${file} holds plaintext`).toBe(false);
    }
    tmp.cleanup();
  });
});
