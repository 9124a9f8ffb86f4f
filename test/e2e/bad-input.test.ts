import http from 'node:http';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { api } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';

const current = useServer();
afterAll(() => agent.destroy());

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** node:http sends the path exactly as given (fetch would resolve `..` and re-encode it before sending). */
function raw(method: string, urlPath: string, body: string | Buffer | undefined, headers: Record<string, string>) {
  const { hostname, port } = new URL(current().address);
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request({ host: hostname, port, method, path: urlPath, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('Bad input', () => {
  it.each([
    ['malformed JSON', 'PUT', '/v1/secret/data/ok', '{"value": ', /not valid JSON/],
    ['a wrong type', 'PUT', '/v1/secret/data/ok', '{"value": 42}', /value/],
    ['an unknown field', 'PUT', '/v1/secret/data/ok', '{"value": "x", "valu": "y"}', /valu/],
    ['both value and binary', 'PUT', '/v1/secret/data/ok', '{"value": "x", "binary": "eA=="}', /not both/],
    ['an invalid name', 'PUT', '/v1/secret/data/bad%20name', '{"value": "x"}', /name/],
    ['a dot-dot segment', 'PUT', '/v1/secret/data/a/../b', '{"value": "x"}', /name|segment/],
    ['an empty segment', 'PUT', '/v1/secret/data/a//b', '{"value": "x"}', /name|segment/],
    ['a broken escape', 'GET', '/v1/secret/data/a%zz', undefined, /name/],
    ['a 513-character name', 'PUT', `/v1/secret/data/${'n'.repeat(513)}`, '{"value": "x"}', /name|512/],
    [
      'an oversized value',
      'PUT',
      '/v1/secret/data/ok',
      JSON.stringify({ value: 'v'.repeat(65_537) }),
      /65536|64 KiB|bytes/,
    ],
    ['a bad recovery window', 'DELETE', '/v1/secret/metadata/ok?recoveryWindowDays=3', undefined, /7/],
    ['an unknown query parameter', 'GET', '/v1/secret/data/ok?stagee=AWSCURRENT', undefined, /stagee/],
  ])('answers %s with a 4xx and a clear message', async (_label, method, urlPath, body, message) => {
    await api(current().address, current().rootToken, 'PUT', '/v1/secret/data/ok', { value: 'present' });
    const res = await raw(method, urlPath, body, {
      'x-coffer-token': current().rootToken,
      'content-type': 'application/json',
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const parsed = JSON.parse(res.text) as { error: { code: string; message: string; requestId: string } };
    expect(parsed.error.message).toMatch(message);
    expect(parsed.error.requestId).toBeTruthy();
  });

  it('cuts off a body over 1 MiB with 413 and keeps serving', async () => {
    const res = await raw('PUT', '/v1/secret/data/big', Buffer.alloc(2 * 1024 * 1024, 0x61), {
      'x-coffer-token': current().rootToken,
      'content-type': 'application/json',
    });
    expect(res.status).toBe(413);
    // The broker answered it, so it carries a request id and left an audit record.
    expect(JSON.parse(res.text).error).toMatchObject({
      code: 'payload_too_large',
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect((await api(current().address, undefined, 'GET', '/v1/sys/health')).status).toBe(200);
  });

  it('refuses bodies nested 5,000 deep and bytes that are not UTF-8 with 400, storing nothing', async () => {
    const headers = { 'x-coffer-token': current().rootToken, 'content-type': 'application/json' };
    const deep = `{"value":"x","metadata":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
    const nested = await raw('PUT', '/v1/secret/data/hardening/deep', deep, headers);
    expect(nested.status).toBe(400);
    expect(nested.text).toContain('nested deeper than 64 levels');
    const bytes = Buffer.concat([Buffer.from('{"value":"a'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]);
    const utf = await raw('PUT', '/v1/secret/data/hardening/utf', bytes, headers);
    expect(utf.status).toBe(400);
    expect(utf.text).toContain('not valid UTF-8');
    const awsBytes = Buffer.concat([
      Buffer.from('{"Name":"hardening-sm","SecretString":"'),
      Buffer.from([0xff]),
      Buffer.from('"}'),
    ]);
    const sm = await raw('POST', '/', awsBytes, {
      'x-coffer-token': current().rootToken,
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'secretsmanager.CreateSecret',
    });
    expect(sm.status).toBe(400);
    expect(JSON.parse(sm.text)).toMatchObject({ __type: 'SerializationException' });
    for (const name of ['hardening/deep', 'hardening/utf', 'hardening-sm']) {
      expect((await raw('GET', `/v1/secret/data/${name}`, undefined, headers)).status).toBe(404);
    }
  });

  it('refuses a path parameter or a query holding an encoded surrogate or a stray byte', async () => {
    const headers = { 'x-coffer-token': current().rootToken, 'content-type': 'application/json' };
    await api(current().address, current().rootToken, 'PUT', '/v1/secret/data/hardening/q', { value: 'v' });
    const path = await raw('PUT', '/v1/secret/data/hardening/%ED%A0%80', '{"value":"x"}', headers);
    expect(path.status).toBe(400);
    expect(path.text).toContain('not valid percent-encoded UTF-8');
    for (const query of ['stage=%ED%A0%80', 'stage=AWS%FFCURRENT']) {
      const res = await raw('GET', `/v1/secret/data/hardening/q?${query}`, undefined, headers);
      expect(res.status).toBe(400);
      expect(res.text).toContain('invalid query');
    }
  });

  it('answers unknown routes with 404 and wrong methods with 405', async () => {
    expect((await raw('GET', '/v1/nope', undefined, {})).status).toBe(404);
    expect((await raw('PATCH', '/v1/sys/health', undefined, {})).status).toBe(405);
  });

  it('survives 10,000 malformed requests without a 5xx or a crash', async () => {
    const paths = [
      '/v1/secrets',
      '/v1/secret/data/fuzz/a',
      '/v1/secret/metadata/fuzz/a',
      '/v1/secret/versions/fuzz/a',
      '/v1/secret/stages/fuzz/a',
      '/v1/secret/list/fuzz/',
      '/v1/sys/policies/fuzz',
      '/v1/sys/policy-test',
      '/v1/auth/token/create',
      '/v1/auth/token/lookup',
      '/v1/auth/token/renew',
    ];
    const mutatedPath = fc
      .tuple(
        fc.constantFrom(...paths),
        fc.constantFrom('', '/..', '//', '/%2e%2e', '%00', '/%ff', '?', '?limit=-1', '?cursor=%%', '/%C3%A9'),
        fc.string({ maxLength: 12 }),
      )
      .map(([p, twist, noise]) => `${p}${twist}${encodeURI(noise)}`);
    const jsonish = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json({ maxDepth: 4 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ value: v, binary: v, name: v, stages: v, cas: v })),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')),
      fc.constantFrom('[', '{"value":', 'null', '[]', '"x"', '{"__proto__":{"x":1}}', '['.repeat(5000)),
    );
    const request = fc.record({
      method: fc.constantFrom('GET', 'PUT', 'POST', 'PATCH', 'DELETE'),
      path: mutatedPath,
      body: fc.option(jsonish, { nil: undefined }),
      contentType: fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8', ''),
      withToken: fc.boolean(),
    });
    const samples = fc.sample(request, { numRuns: 10_000, seed: 20261128 });
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < samples.length) {
        const s = samples[next++]!;
        const headers: Record<string, string> = {};
        if (s.contentType !== '') headers['content-type'] = s.contentType;
        if (s.withToken) headers['x-coffer-token'] = current().rootToken;
        const body = s.method === 'GET' ? undefined : s.body;
        const res = await raw(s.method, s.path, body, headers);
        if (res.status >= 500) failures.push(`${s.method} ${s.path} -> ${res.status} ${res.text}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(failures).toEqual([]);
    expect(samples.length).toBe(10_000);
    expect((await api(current().address, undefined, 'GET', '/v1/sys/health')).status).toBe(200);
  });
});
