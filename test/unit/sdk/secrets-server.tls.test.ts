import https from 'node:https';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { generateDevTls } from '../../../lambdas/entrypoints/local/tls.ts';
import type { SecretSource } from '../../../lambdas/sdk/secret-cache.ts';
import { type SecretsCacheServer, startSecretsCache, TOKEN_HEADER } from '../../../lambdas/sdk/secrets-server.ts';

const source: SecretSource = {
  fetch: async (input) => ({
    ARN: `arn:${input.secretId}`,
    Name: input.secretId,
    VersionId: 'v1',
    SecretString: 'cached-value',
    VersionStages: ['AWSCURRENT'],
    CreatedDate: 1_700_000_000,
  }),
  versions: async () => ({ versionIdsToStages: { v1: ['AWSCURRENT'] }, deleted: false }),
};

const servers: SecretsCacheServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(minVersion?: 'TLSv1.2' | 'TLSv1.3') {
  const pki = await generateDevTls({ dns: ['localhost'], ips: ['127.0.0.1'] }, new Date());
  const server = await startSecretsCache({
    coffer: { source },
    port: 0,
    token: 'session',
    tls: { cert: pki.certPem, key: pki.keyPem, ...(minVersion === undefined ? {} : { minVersion }) },
  });
  servers.push(server);
  return { server, ca: pki.caPem };
}

function handshake(port: number, options: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...options }, () => {
      resolve(socket.getProtocol() ?? '');
      socket.end();
    });
    socket.on('error', reject);
  });
}

describe('Function: startSecretsCache over TLS', () => {
  it('serves the cache protocol over HTTPS at an https address', async () => {
    const { server, ca } = await start();
    expect(server.address).toBe(`https://127.0.0.1:${server.port}`);
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get(
          `${server.address}/secretsmanager/get?secretId=app%2Fdb`,
          { ca, headers: { [TOKEN_HEADER]: 'session' } },
          (res) => {
            let text = '';
            res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
            res.on('end', () => resolve(text));
          },
        )
        .on('error', reject);
    });
    expect(JSON.parse(body)).toMatchObject({ Name: 'app/db', SecretString: 'cached-value' });
  });

  it('accepts TLS 1.3 only, unless 1.2 is allowed', async () => {
    const strict = await start();
    await expect(handshake(strict.server.port, { ca: strict.ca })).resolves.toBe('TLSv1.3');
    await expect(handshake(strict.server.port, { ca: strict.ca, maxVersion: 'TLSv1.2' })).rejects.toThrow();
    const lenient = await start('TLSv1.2');
    await expect(handshake(lenient.server.port, { ca: lenient.ca, maxVersion: 'TLSv1.2' })).resolves.toBe('TLSv1.2');
  });

  it('serves a renewed certificate to new handshakes and keeps open connections (reloadTls, SIGHUP)', async () => {
    const { server, ca } = await start();
    const open = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: server.port, servername: 'localhost', ca }, () =>
        resolve(socket),
      );
      socket.on('error', reject);
    });
    const renewed = await generateDevTls({ dns: ['localhost'], ips: ['127.0.0.1'] }, new Date());
    server.reloadTls({ cert: renewed.certPem, key: renewed.keyPem });
    // New handshakes get the renewed chain: trusted under the new CA, refused under the old one.
    await expect(handshake(server.port, { ca: renewed.caPem })).resolves.toBe('TLSv1.3');
    await expect(handshake(server.port, { ca })).rejects.toThrow();
    // The connection opened before still works.
    const answer = await new Promise<string>((resolve, reject) => {
      let text = '';
      open.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        if (text.includes('\r\n\r\n')) resolve(text);
      });
      open.on('error', reject);
      open.write(`GET /secretsmanager/get?secretId=a HTTP/1.1\r\nHost: 127.0.0.1\r\n${TOKEN_HEADER}: session\r\n\r\n`);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    open.destroy();
    const plain = await startSecretsCache({ coffer: { source }, port: 0, token: 'session' });
    servers.push(plain);
    expect(() => plain.reloadTls({ cert: renewed.certPem, key: renewed.keyPem })).toThrow(/plain HTTP/);
  });
});
