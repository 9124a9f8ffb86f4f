import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { SecretSource } from '../../../lambdas/sdk/secret-cache.ts';
import { type SecretsCacheServer, startSecretsCache, TOKEN_HEADER } from '../../../lambdas/sdk/secrets-server.ts';
import type { GetSecretValueInput, GetSecretValueOutput } from '../../../lambdas/sdk/types.ts';

/** One secret whose value and version the test moves; counts what reached "Coffer". */
class OneSecret implements SecretSource {
  value = 'v1';
  stages = ['AWSCURRENT'];
  fetches = 0;
  checks = 0;

  async fetch(input: GetSecretValueInput): Promise<GetSecretValueOutput> {
    this.fetches++;
    return {
      ARN: `arn:${input.secretId}`,
      Name: input.secretId,
      VersionId: `id-${this.value}`,
      SecretString: this.value,
      VersionStages: [...this.stages],
      CreatedDate: 1_700_000_000,
    };
  }

  async versions() {
    this.checks++;
    return { versionIdsToStages: { [`id-${this.value}`]: [...this.stages] }, deleted: false };
  }
}

const TOKEN = 'session-token-value';
let server: SecretsCacheServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** node:http, so a test can send any `Host` and latin-1 header bytes, and see the framing headers. */
function rawGet(headers: Record<string, string>, path = '/secretsmanager/get?secretId=s'): Promise<Raw> {
  const { port } = server!;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** A request written byte for byte, so a header can be repeated or spelled in any case; the status code answered. */
function rawRequest(headerLines: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server!.port, '127.0.0.1', () =>
      socket.end(
        `GET /secretsmanager/get?secretId=s HTTP/1.1\r\n${headerLines.join('\r\n')}\r\nConnection: close\r\n\r\n`,
      ),
    );
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3}) /.exec(Buffer.concat(chunks).toString('latin1'))?.[1])));
    socket.on('error', reject);
  });
}

describe('Function: startSecretsCache (hit path)', () => {
  it('answers a miss and a hit with the same bytes and an exact Content-Length, not chunked', async () => {
    const source = new OneSecret();
    server = await startSecretsCache({ coffer: { source }, port: 0, token: TOKEN });
    const miss = await rawGet({ [TOKEN_HEADER]: TOKEN });
    const hit = await rawGet({ [TOKEN_HEADER]: TOKEN });
    expect(source.fetches).toBe(1);
    for (const res of [miss, hit]) {
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.headers['transfer-encoding']).toBeUndefined();
      expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body));
    }
    expect(hit.body).toBe(miss.body);
    expect(JSON.parse(hit.body)).toMatchObject({ SecretString: 'v1', VersionStages: ['AWSCURRENT'] });
  });

  it('serves a re-labelled value with its new stages after a check, not the bytes serialised before', async () => {
    const source = new OneSecret();
    let now = 0;
    server = await startSecretsCache({
      coffer: { source },
      port: 0,
      token: TOKEN,
      now: () => now,
      cache: { checkIntervalMs: 1000, staleWhileRevalidateMs: 0 },
    });
    expect(JSON.parse((await rawGet({ [TOKEN_HEADER]: TOKEN })).body).VersionStages).toEqual(['AWSCURRENT']);
    source.stages = ['AWSCURRENT', 'blue'];
    now = 1500;
    const after = await rawGet({ [TOKEN_HEADER]: TOKEN });
    expect(source).toMatchObject({ checks: 1, fetches: 1 });
    expect(JSON.parse(after.body).VersionStages).toEqual(['AWSCURRENT', 'blue']);
    expect(Number(after.headers['content-length'])).toBe(Buffer.byteLength(after.body));
  });

  it('refuses a token of the right length that differs, whether in ASCII or in latin-1 bytes', async () => {
    const source = new OneSecret();
    server = await startSecretsCache({ coffer: { source }, port: 0, token: TOKEN });
    const sameLength = [`${TOKEN.slice(0, -1)}X`, `é${TOKEN.slice(1)}`, `${TOKEN.slice(0, -2)}ÿÿ`];
    for (const token of sameLength) {
      expect(token).toHaveLength(TOKEN.length);
      expect((await rawGet({ [TOKEN_HEADER]: token })).status, token).toBe(403);
    }
    expect((await rawGet({ [TOKEN_HEADER]: TOKEN.slice(0, -1) })).status).toBe(403);
    // A refused attempt leaves nothing behind that would let the next one through, nor stops the right token.
    expect((await rawGet({ [TOKEN_HEADER]: TOKEN })).status).toBe(200);
    expect((await rawGet({ [TOKEN_HEADER]: `${TOKEN.slice(0, -1)}X` })).status).toBe(403);
    expect(source.fetches).toBe(1);
  });

  it('compares a non-ASCII token on its UTF-8 bytes: the same characters match, others of its length do not', async () => {
    const source = new OneSecret();
    server = await startSecretsCache({ coffer: { source }, port: 0, token: 'éte' });
    // Same length in characters; 'ete' also encodes to fewer bytes, 'ête' to as many but other ones.
    for (const token of ['ete', 'ête', 'étf'])
      expect((await rawGet({ [TOKEN_HEADER]: token })).status, token).toBe(403);
    expect(source.fetches).toBe(0);
    expect((await rawGet({ [TOKEN_HEADER]: 'éte' })).status).toBe(200);
  });

  it('keeps refusing a rebinding Host and serving loopback, however often each is asked for, in any order', async () => {
    const source = new OneSecret();
    server = await startSecretsCache({ coffer: { source }, port: 0, token: TOKEN });
    const statuses: number[] = [];
    for (let round = 0; round < 3; round++) {
      for (const host of ['evil.example', 'localhost', 'evil.example:2773', `127.0.0.1:${server.port}`]) {
        statuses.push((await rawGet({ host, [TOKEN_HEADER]: TOKEN })).status);
      }
    }
    expect(statuses).toEqual([421, 200, 421, 200, 421, 200, 421, 200, 421, 200, 421, 200]);
  });

  it('still refuses rebinding names after more distinct Host values than it remembers', async () => {
    const source = new OneSecret();
    server = await startSecretsCache({ coffer: { source }, port: 0, token: TOKEN });
    for (let n = 0; n < 100; n++) {
      expect((await rawGet({ host: `h${n}.evil.example`, [TOKEN_HEADER]: TOKEN })).status).toBe(421);
    }
    expect((await rawGet({ host: 'evil.example', [TOKEN_HEADER]: TOKEN })).status).toBe(421);
    expect((await rawGet({ host: 'localhost:2773', [TOKEN_HEADER]: TOKEN })).status).toBe(200);
  });

  it('reads Host and the token as node:http folds them: first Host wins, repeated tokens are joined and refused', async () => {
    const source = new OneSecret();
    server = await startSecretsCache({ coffer: { source }, port: 0, token: TOKEN });
    const token = `X-AWS-Parameters-Secrets-Token: ${TOKEN}`;
    expect(await rawRequest(['HOST: localhost', token])).toBe(200);
    expect(await rawRequest(['Host: evil.example', 'Host: localhost', token])).toBe(421);
    expect(await rawRequest(['Host: localhost', 'Host: evil.example', token])).toBe(200);
    expect(await rawRequest(['Host: localhost', token, token])).toBe(403);
    expect(await rawRequest(['Host: localhost', token, 'x-aws-parameters-secrets-token: '])).toBe(403);
    expect(await rawRequest(['Host: localhost', 'x-aws-parameters-secrets-token: '])).toBe(401);
    expect(
      await rawRequest(['Host: localhost', 'x-aws-parameters-secrets-tokens: x', 'x-aws-parameters-secret-token: x']),
    ).toBe(401);
    expect(source.fetches).toBe(1);
  });
});
