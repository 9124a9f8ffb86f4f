import { describe, expect, it } from 'vitest';
import type { BrokerRequest } from '../../../lambdas/broker/http-types.ts';
import type { AuditRecord } from '../../../lambdas/core/audit/audit-types.ts';
import { memoryNode, request } from '../../support/memory-node.ts';

type Json = Record<string, unknown> & { error: { code: string; message: string } };
const json = (body: string) => JSON.parse(body) as Json;

/** A Secrets Manager (AWS JSON 1.1) request with a raw body, authenticated by token. */
function aws(operation: string, body: string | Buffer, token: string): BrokerRequest {
  return {
    method: 'POST',
    rawPath: '/',
    query: {},
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `secretsmanager.${operation}`,
      'x-coffer-token': token,
    },
    body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    sourceIp: '127.0.0.1',
  };
}

function nested(depth: number, inner = '1'): string {
  return `${'{"a":'.repeat(depth - 1)}[${inner}]${'}'.repeat(depth - 1)}`;
}

function recordsOf(sink: { records(): AuditRecord[] }, requestId: string | undefined): AuditRecord[] {
  return sink.records().filter((r) => r.requestId === requestId);
}

describe('Broker: nesting limits', () => {
  it('answers a body nested 5,000 deep with 400 before parsing it, and stores nothing', async () => {
    const { broker, sink, rootToken } = await memoryNode();
    const deep = `{"value":"x","metadata":${nested(5000)}}`;
    const res = await broker.handle(request('PUT', '/v1/secret/data/app/deep', { token: rootToken, body: deep }));
    expect(res.status).toBe(400);
    expect(json(res.body).error.message).toBe('request body is nested deeper than 64 levels');
    const get = await broker.handle(request('GET', '/v1/secret/data/app/deep', { token: rootToken }));
    expect(get.status).toBe(404);
    // The refusal itself is audited.
    const records = recordsOf(sink, res.headers['x-request-id']);
    expect(records).toMatchObject([{ type: 'response', outcome: 'error', status: 400, errorCode: 'validation' }]);
  });

  it('answers a 5,000-deep Secrets Manager body with a SerializationException and creates no secret', async () => {
    const { broker, rootToken } = await memoryNode();
    const body = `{"Name":"deep","SecretString":"x","AddReplicaRegions":[${nested(5000)}]}`;
    const res = await broker.handle(aws('CreateSecret', body, rootToken));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({
      __type: 'SerializationException',
      message: 'request body is nested deeper than 64 levels',
    });
    const describe = await broker.handle(aws('DescribeSecret', '{"SecretId":"deep"}', rootToken));
    expect(JSON.parse(describe.body).__type).toBe('ResourceNotFoundException');
  });

  it('refuses 65 levels, not 64, and never counts brackets inside strings', async () => {
    const { broker, rootToken } = await memoryNode();
    const at = async (body: string) => broker.handle(request('PUT', '/v1/sys/policies/p', { token: rootToken, body }));
    expect(json((await at(nested(65))).body).error.message).toMatch(/nested deeper than 64/);
    expect(json((await at(nested(64))).body).error.message).not.toMatch(/nested/);
    const value = `${'[{'.repeat(5000)}\\"${']'.repeat(3)}`;
    const put = await broker.handle(
      request('PUT', '/v1/secret/data/app/brackets', { token: rootToken, body: `{"value":"${value}"}` }),
    );
    expect(put.status).toBe(200);
  });
});

describe('Broker: strict UTF-8', () => {
  const invalid: [string, Buffer][] = [
    ['a stray continuation byte', Buffer.from([0x80])],
    ['0xFF', Buffer.from([0xff, 0xfe])],
    ['an overlong encoding', Buffer.from([0xc0, 0xaf])],
    ['an encoded surrogate', Buffer.from([0xed, 0xa0, 0x80])],
    ['a truncated sequence', Buffer.from([0xe2, 0x82])],
  ];

  it.each(invalid)('refuses a SecretString holding %s and stores nothing', async (_label, bytes) => {
    const { broker, rootToken } = await memoryNode();
    const body = Buffer.concat([Buffer.from('{"Name":"utf","SecretString":"a'), bytes, Buffer.from('b"}')]);
    const res = await broker.handle(aws('CreateSecret', body, rootToken));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({
      __type: 'SerializationException',
      message: 'request body is not valid UTF-8',
    });
    const describe = await broker.handle(aws('DescribeSecret', '{"SecretId":"utf"}', rootToken));
    expect(JSON.parse(describe.body).__type).toBe('ResourceNotFoundException');
  });

  it('refuses a native value holding bytes that are not UTF-8', async () => {
    const { broker, rootToken } = await memoryNode();
    const body = Buffer.concat([Buffer.from('{"value":"a'), Buffer.from([0xff]), Buffer.from('"}')]);
    const res = await broker.handle({ ...request('PUT', '/v1/secret/data/app/utf', { token: rootToken }), body });
    expect(res.status).toBe(400);
    expect(json(res.body).error.message).toBe('request body is not valid UTF-8');
    expect((await broker.handle(request('GET', '/v1/secret/data/app/utf', { token: rootToken }))).status).toBe(404);
  });

  it('still accepts valid multi-byte UTF-8', async () => {
    const { broker, rootToken } = await memoryNode();
    const value = 'é€😀';
    await broker.handle(request('PUT', '/v1/secret/data/app/ok', { token: rootToken, body: { value } }));
    const get = await broker.handle(request('GET', '/v1/secret/data/app/ok', { token: rootToken }));
    expect(json(get.body).value).toBe(value);
  });

  it.each(['%ED%A0%80', '%FF', '%C0%AF', 'a%zz'])(
    'refuses the path parameter %s with 400 and stores nothing',
    async (p) => {
      const { broker, rootToken } = await memoryNode();
      const res = await broker.handle(
        request('PUT', `/v1/secret/data/app/${p}`, { token: rootToken, body: { value: 'v' } }),
      );
      expect(res.status).toBe(400);
      expect(json(res.body).error.message).toBe('invalid path: name is not valid percent-encoded UTF-8');
      const list = await broker.handle(request('GET', '/v1/secrets', { token: rootToken }));
      expect(list.body).not.toContain('app/');
    },
  );

  it.each(['stage=%ED%A0%80', 'stage=a%FFb', 'stage=%E2%82'])('refuses the raw query %s with 400', async (raw) => {
    const { broker, rootToken } = await memoryNode();
    await broker.handle(request('PUT', '/v1/secret/data/app/q', { token: rootToken, body: { value: 'v' } }));
    const lenient = Object.fromEntries(new URLSearchParams(raw));
    const res = await broker.handle({
      ...request('GET', '/v1/secret/data/app/q', { token: rootToken, query: lenient }),
      rawQuery: raw,
    });
    expect(res.status).toBe(400);
    expect(json(res.body).error.message).toBe('invalid query: not valid percent-encoded UTF-8');
  });

  it('accepts a raw query of valid escapes, literal characters and broken escapes left as text', async () => {
    const { broker, rootToken } = await memoryNode();
    await broker.handle(request('PUT', '/v1/secret/data/app/q', { token: rootToken, body: { value: 'v' } }));
    const raw = 'stage=AWSCURRENT&x=%C3%A9%E2%82%AC';
    const res = await broker.handle({
      ...request('GET', '/v1/secret/data/app/q', { token: rootToken, query: { stage: 'AWSCURRENT' } }),
      rawQuery: raw,
    });
    expect(res.status).toBe(200);
  });
});

describe('Broker: unroutable requests are audited', () => {
  const cases: [string, BrokerRequest, number, string][] = [
    [
      'an unknown path',
      { ...request('GET', '/v1/nothing/hunter2'), query: { token: 'query-canary' } },
      404,
      'unroutable',
    ],
    ['a wrong method', request('DELETE', '/v1/sys/health'), 405, 'unroutable'],
    [
      'a body too large to read',
      { ...request('PUT', '/v1/nothing/big'), bodyTooLarge: true, rawQuery: 'a=query-canary' },
      413,
      'unroutable',
    ],
    [
      'an unknown X-Amz-Target',
      {
        ...aws('Frobnicate', '{"SecretString":"body-canary"}', 'x'),
        headers: { 'x-amz-target': 'secretsmanager.Frobnicate' },
      },
      400,
      'aws.unknown-operation',
    ],
    ['a missing X-Amz-Target', { ...aws('X', '{}', 'x'), headers: {} }, 400, 'aws.unknown-operation'],
  ];

  it.each(cases)('records %s with its status, and no query or body value', async (_label, req, status, operation) => {
    const { broker, deps, sink } = await memoryNode();
    const res = await broker.handle(req);
    expect(res.status).toBe(status);
    const records = recordsOf(sink, res.headers['x-request-id']);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      type: 'response',
      operation,
      path: '',
      outcome: 'error',
      status,
      sourceIp: '127.0.0.1',
      request: { method: req.method, rawPath: deps.audit.hmac(req.rawPath) },
    });
    const all = sink.lines.join('\n');
    for (const canary of ['hunter2', 'query-canary', 'body-canary']) expect(all).not.toContain(canary);
  });

  it('keeps an operation-like target and hashes anything else', async () => {
    const { broker, deps, sink } = await memoryNode();
    const odd = 'secretsmanager.Get\u2028{"x":1}';
    await broker.handle({ ...aws('Frobnicate', '{}', 'x'), headers: { 'x-amz-target': 'secretsmanager.Frobnicate' } });
    await broker.handle({ ...aws('Frobnicate', '{}', 'x'), headers: { 'x-amz-target': odd } });
    const targets = sink.records().map((r) => (r.request as { target?: string }).target);
    expect(targets).toEqual(['secretsmanager.Frobnicate', deps.audit.hmac(odd)]);
  });

  it('answers a routed request whose body was too large with an audited 413', async () => {
    const { broker, sink, rootToken } = await memoryNode();
    const res = await broker.handle({
      ...request('PUT', '/v1/secret/data/app/big', { token: rootToken }),
      bodyTooLarge: true,
    });
    expect(res.status).toBe(413);
    expect(json(res.body).error.code).toBe('payload_too_large');
    expect(recordsOf(sink, res.headers['x-request-id'])).toMatchObject([
      { type: 'response', operation: 'secret.write', status: 413, errorCode: 'payload_too_large' },
    ]);
    expect((await broker.handle(request('GET', '/v1/secret/data/app/big', { token: rootToken }))).status).toBe(404);
  });

  it('fails closed: when the audit sink fails, an unroutable request gets the audit error', async () => {
    const { broker, sink } = await memoryNode();
    sink.failWith = new Error('ENOSPC');
    const res = await broker.handle(request('GET', '/v1/nothing'));
    expect(res.status).toBe(503);
    expect(json(res.body).error.code).toBe('audit_unavailable');
    const target = await broker.handle({
      ...aws('Frobnicate', '{}', 'x'),
      headers: { 'x-amz-target': 'secretsmanager.Nope' },
    });
    expect(target.status).toBe(500);
    expect(JSON.parse(target.body).__type).toBe('InternalServiceError');
  });
});
