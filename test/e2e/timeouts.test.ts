import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { api } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';

const current = useServer({ COFFER_REQUEST_TIMEOUT_MS: '1500' });

/** Opens a raw connection, sends `head`, and resolves with whatever the server answers before it hangs up. */
function slowRequest(head: string): Promise<string> {
  const { hostname, port } = new URL(current().address);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(head));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('Request timeouts', () => {
  it('answers 408 to a client that never finishes its body, and keeps serving others', async () => {
    const hung = slowRequest(
      `PUT /v1/secret/data/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"value":`,
    );
    // Meanwhile the server is not blocked by the stalled client.
    expect((await api(current().address, undefined, 'GET', '/v1/sys/health')).status).toBe(200);
    expect(await hung).toMatch(/^HTTP\/1\.1 408/);
    const read = await api(current().address, current().rootToken, 'GET', '/v1/secret/data/slow');
    expect(read.status).toBe(404);
  });
});
