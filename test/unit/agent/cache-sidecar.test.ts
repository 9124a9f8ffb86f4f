import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type CacheSidecar, startCacheSidecar } from '../../../lambdas/agent/cache-sidecar.ts';

let sidecar: CacheSidecar | undefined;
afterEach(async () => {
  await sidecar?.close();
  sidecar = undefined;
});

/** node:http, since fetch will not send a `Host` of our choosing. `/nowhere` is answered without reaching Coffer. */
function getWithHost(host: string): Promise<{ status: number; body: string }> {
  const port = Number(new URL(sidecar!.address).port);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/nowhere', headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function start(options: { host?: string; allowedHosts?: string[] } = {}) {
  sidecar = await startCacheSidecar({
    // Never contacted: only the Host check and the unknown path are exercised.
    address: 'http://127.0.0.1:9',
    port: 0,
    host: options.host ?? '127.0.0.1',
    token: () => 'agent-token',
    callerToken: undefined,
    ...(options.allowedHosts === undefined ? {} : { allowedHosts: options.allowedHosts }),
  });
}

describe('Function: startCacheSidecar', () => {
  it('refuses Host: evil.example with 421 and serves loopback names', async () => {
    await start();
    const refused = await getWithHost('evil.example');
    expect(refused.status).toBe(421);
    expect(JSON.parse(refused.body).__type).toBe('MisdirectedRequest');
    for (const host of ['localhost', '127.0.0.1:2773', '[::1]']) {
      expect((await getWithHost(host)).status, host).toBe(404);
    }
  });

  it('serves the configured names and a non-wildcard listen address, nothing else', async () => {
    await start({ allowedHosts: ['secrets-cache'] });
    expect((await getWithHost('secrets-cache:2773')).status).toBe(404);
    expect((await getWithHost('evil.example')).status).toBe(421);
    await sidecar!.close();
    await start({ host: '0.0.0.0' });
    expect((await getWithHost('0.0.0.0')).status).toBe(421);
    expect((await getWithHost('localhost')).status).toBe(404);
  });
});
