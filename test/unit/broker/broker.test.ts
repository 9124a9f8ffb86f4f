import { describe, expect, it } from 'vitest';
import { memoryNode, request } from '../../support/memory-node.ts';

const json = (body: string) =>
  JSON.parse(body) as Record<string, unknown> & { error: { code: string; message: string; requestId: string } };

describe('Class: Broker', () => {
  it('serves health without a token', async () => {
    const { broker } = await memoryNode();
    const res = await broker.handle(request('GET', '/v1/sys/health'));
    expect(res.status).toBe(200);
    expect(json(res.body).status).toBe('ok');
  });

  it('refuses a request without a token before touching data', async () => {
    const { broker } = await memoryNode();
    const res = await broker.handle(request('GET', '/v1/secret/data/app/db'));
    expect(res.status).toBe(401);
    expect(json(res.body).error.code).toBe('unauthenticated');
  });

  it('writes and reads a secret with the root token', async () => {
    const { broker, rootToken } = await memoryNode();
    const put = await broker.handle(
      request('PUT', '/v1/secret/data/app/db', { token: rootToken, body: { value: 's3cr3t' } }),
    );
    expect(put.status).toBe(200);
    const get = await broker.handle(request('GET', '/v1/secret/data/app/db', { token: rootToken }));
    expect(json(get.body).value).toBe('s3cr3t');
    expect(json(get.body).versionStages).toEqual(['AWSCURRENT']);
  });

  it('decodes percent-encoded separators in names exactly once', async () => {
    const { broker, rootToken } = await memoryNode();
    await broker.handle(request('PUT', '/v1/secret/data/app%2Fdb', { token: rootToken, body: { value: 'v' } }));
    const get = await broker.handle(request('GET', '/v1/secret/data/app/db', { token: rootToken }));
    expect(json(get.body).value).toBe('v');
    const doubly = await broker.handle(request('GET', '/v1/secret/data/app%252Fdb', { token: rootToken }));
    expect(doubly.status).toBe(400);
  });

  it('gives a denied caller the same answer whether or not the secret exists', async () => {
    const { broker, deps, rootToken } = await memoryNode();
    await broker.handle(request('PUT', '/v1/secret/data/prod/db', { token: rootToken, body: { value: 'v' } }));
    await deps.policies.put({ name: 'dev', rules: [{ path: 'secrets/dev/*', capabilities: ['read'] }] });
    const root = await deps.tokens.lookup({ token: rootToken });
    const { token } = await deps.tokens.create(root, { policies: ['dev'] });
    const existing = await broker.handle(request('GET', '/v1/secret/data/prod/db', { token }));
    const missing = await broker.handle(request('GET', '/v1/secret/data/prod/nope', { token }));
    expect(existing.status).toBe(403);
    expect(missing.status).toBe(403);
    expect(json(existing.body).error.message).toBe(
      'permission denied: read on secrets/prod/db: no rule grants read on "secrets/prod/db"',
    );
    expect(json(missing.body).error.message.replaceAll('nope', 'db')).toBe(json(existing.body).error.message);
  });

  it('lets a create-only caller create but never overwrite', async () => {
    const { broker, deps, rootToken } = await memoryNode();
    await deps.policies.put({ name: 'writer', rules: [{ path: 'secrets/drop/*', capabilities: ['create'] }] });
    const root = await deps.tokens.lookup({ token: rootToken });
    const { token } = await deps.tokens.create(root, { policies: ['writer'] });
    const first = await broker.handle(request('PUT', '/v1/secret/data/drop/a', { token, body: { value: 'one' } }));
    expect(first.status).toBe(200);
    const again = await broker.handle(request('PUT', '/v1/secret/data/drop/a', { token, body: { value: 'two' } }));
    expect(again.status).toBe(409);
    const read = await broker.handle(request('GET', '/v1/secret/data/drop/a', { token: rootToken }));
    expect(json(read.body).value).toBe('one');
  });

  it('fails closed: when the audit sink fails, the write is refused and nothing changes', async () => {
    const { broker, sink, rootToken } = await memoryNode();
    await broker.handle(request('PUT', '/v1/secret/data/app/db', { token: rootToken, body: { value: 'before' } }));
    sink.failWith = new Error('ENOSPC');
    const res = await broker.handle(
      request('PUT', '/v1/secret/data/app/db', { token: rootToken, body: { value: 'after' } }),
    );
    expect(res.status).toBe(503);
    expect(json(res.body).error.code).toBe('audit_unavailable');
    sink.failWith = undefined;
    const get = await broker.handle(request('GET', '/v1/secret/data/app/db', { token: rootToken }));
    expect(json(get.body).value).toBe('before');
  });

  it('audits request and response with the value and token HMACed', async () => {
    const { broker, sink, rootToken } = await memoryNode();
    const put = await broker.handle(
      request('PUT', '/v1/secret/data/app/db', { token: rootToken, body: { value: 'plain-canary' } }),
    );
    const requestId = put.headers['x-request-id'];
    const records = sink.records().filter((r) => r.requestId === requestId);
    expect(records.map((r) => r.type)).toEqual(['request', 'response']);
    expect(records[0]!.path).toBe('secrets/app/db');
    expect(records[1]!.outcome).toBe('ok');
    const all = sink.lines.join('\n');
    expect(all).not.toContain('plain-canary');
    expect(all).not.toContain(rootToken);
    expect(String((records[0]!.request as Record<string, unknown>).value)).toMatch(/^hmac-sha256:/);
  });

  it('never leaks an internal error message', async () => {
    const { broker, deps, rootToken } = await memoryNode();
    deps.secrets.get = async () => {
      throw new Error('database exploded near value hunter2');
    };
    const res = await broker.handle(request('GET', '/v1/secret/data/app/db', { token: rootToken }));
    expect(res.status).toBe(500);
    expect(res.body).not.toContain('hunter2');
    expect(json(res.body).error).toEqual({
      code: 'internal',
      message: 'internal error',
      requestId: res.headers['x-request-id'],
    });
  });

  it('rejects a non-JSON content type and malformed JSON with 400', async () => {
    const { broker, rootToken } = await memoryNode();
    const text = request('PUT', '/v1/secret/data/a', { token: rootToken, body: '{"value":"x"}' });
    const res = await broker.handle({ ...text, headers: { ...text.headers, 'content-type': 'text/plain' } });
    expect(res.status).toBe(400);
    const bad = await broker.handle(request('PUT', '/v1/secret/data/a', { token: rootToken, body: '{"value":' }));
    expect(json(bad.body).error.message).toBe('request body is not valid JSON');
  });

  it('answers 404 for unknown paths and 405 for known paths with the wrong method', async () => {
    const { broker } = await memoryNode();
    expect((await broker.handle(request('GET', '/v1/nothing'))).status).toBe(404);
    expect((await broker.handle(request('DELETE', '/v1/sys/health'))).status).toBe(405);
  });
});
