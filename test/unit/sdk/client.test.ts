import { describe, expect, it } from 'vitest';
import { SigV4Verifier } from '../../../lambdas/core/auth/sigv4/sigv4-verifier.ts';
import { CofferClient, type CofferClientOptions } from '../../../lambdas/sdk/client.ts';
import {
  CofferAccessDeniedError,
  CofferClientError,
  CofferConflictError,
  CofferInvalidRequestError,
  CofferNetworkError,
  CofferNotFoundError,
  CofferServerError,
  CofferThrottledError,
  CofferValidationError,
} from '../../../lambdas/sdk/errors.ts';

interface Call {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: string | undefined;
}

type Reply = { status: number; body: unknown; headers?: Record<string, string> } | Error;

/** A fetch that records calls and answers from a script (the last reply repeats). */
function fakeFetch(replies: Reply[] | ((call: Call) => Reply)) {
  const calls: Call[] = [];
  const fetch = (async (input: URL | string, init: RequestInit = {}) => {
    const call: Call = {
      method: init.method ?? 'GET',
      url: new URL(input.toString()),
      headers: { ...(init.headers as Record<string, string>) },
      body: typeof init.body === 'string' ? init.body : undefined,
    };
    calls.push(call);
    const reply = typeof replies === 'function' ? replies(call) : (replies[calls.length - 1] ?? replies.at(-1)!);
    if (reply instanceof Error) throw reply;
    const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    return new Response(text, { status: reply.status, headers: reply.headers });
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

const read = (overrides: Record<string, unknown> = {}) => ({
  name: 'prod/db',
  arn: 'arn:aws:secretsmanager:local:000000000000:secret:prod/db-AbCdEf',
  versionId: 'v1',
  versionStages: ['AWSCURRENT'],
  createdAt: '2026-01-02T03:04:05.678Z',
  value: 's3cr3t',
  ...overrides,
});

const describeBody = (stages: Record<string, string[]>) => ({
  arn: 'arn:x',
  name: 'prod/db',
  description: '',
  tags: {},
  metadata: {},
  createdAt: '2026-01-02T03:04:05.000Z',
  updatedAt: '2026-01-02T03:04:05.000Z',
  versionIdsToStages: stages,
});

function client(fetch: typeof globalThis.fetch, options: Partial<CofferClientOptions> = {}) {
  const sleeps: number[] = [];
  const c = new CofferClient({
    endpoint: 'http://coffer.test:8270/',
    auth: { token: 'tok' },
    fetch,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    env: {},
    ...options,
  });
  return { client: c, sleeps };
}

describe('Class: CofferClient', () => {
  it('acts in the region it is given (option region, else COFFER_REGION), sent as X-Coffer-Region', async () => {
    const { fetch, calls } = fakeFetch([{ status: 200, body: read() }]);
    await client(fetch, { region: 'eu-west-1' }).client.getSecretValue({ secretId: 'prod/db' });
    await client(fetch, { env: { COFFER_REGION: 'ap-south-1' } }).client.getSecretValue({ secretId: 'prod/db' });
    await client(fetch).client.getSecretValue({ secretId: 'prod/db' });
    expect(calls.map((c) => c.headers['x-coffer-region'])).toEqual(['eu-west-1', 'ap-south-1', undefined]);
    expect(calls[0]?.headers['x-coffer-token']).toBe('tok');
  });

  it('reads a value with the token header and returns the GetSecretValue shape', async () => {
    const { fetch, calls } = fakeFetch([{ status: 200, body: read() }]);
    const value = await client(fetch).client.getSecretValue({ secretId: 'prod/db' });
    expect(value).toEqual({
      ARN: 'arn:aws:secretsmanager:local:000000000000:secret:prod/db-AbCdEf',
      Name: 'prod/db',
      VersionId: 'v1',
      SecretString: 's3cr3t',
      VersionStages: ['AWSCURRENT'],
      CreatedDate: Date.parse('2026-01-02T03:04:05.678Z') / 1000,
    });
    expect(calls[0]!.url.href).toBe('http://coffer.test:8270/v1/secret/data/prod/db');
    expect(calls[0]!.headers['x-coffer-token']).toBe('tok');
  });

  it('percent-encodes each name segment and passes versionId and stage as query parameters', async () => {
    const { fetch, calls } = fakeFetch([{ status: 200, body: read({ binary: 'AAEC', value: undefined }) }]);
    const value = await client(fetch).client.getSecretValue({ secretId: 'a/b@c+d', versionStage: 'AWSPREVIOUS' });
    expect(calls[0]!.url.pathname).toBe('/v1/secret/data/a/b%40c%2Bd');
    expect(calls[0]!.url.searchParams.get('stage')).toBe('AWSPREVIOUS');
    expect(value.SecretBinary).toBe('AAEC');
    expect(value.SecretString).toBeUndefined();
    await client(fetch, { cache: false }).client.getSecretValue({ secretId: 'x', versionId: 'abc' });
    expect(calls[1]!.url.searchParams.get('versionId')).toBe('abc');
  });

  it.each([
    [400, 'validation', CofferValidationError],
    [400, 'invalid_request', CofferInvalidRequestError],
    [404, 'not_found', CofferNotFoundError],
    [401, 'unauthenticated', CofferAccessDeniedError],
    [403, 'permission_denied', CofferAccessDeniedError],
    [409, 'conflict', CofferConflictError],
    [409, 'already_exists', CofferConflictError],
    [413, 'payload_too_large', CofferValidationError],
  ])('maps HTTP %i %s to %o without retrying', async (status, code, ErrorClass) => {
    const { fetch, calls } = fakeFetch([
      { status, body: { error: { code, message: `msg ${code}`, requestId: 'req-1' } } },
    ]);
    const { client: c, sleeps } = client(fetch);
    const err = await c.getSecretValue({ secretId: 'prod/db' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ErrorClass);
    expect(err).toMatchObject({ status, code, message: `msg ${code}`, requestId: 'req-1', retryable: false });
    expect(calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('classifies a body that is not the native shape (a proxy’s) by status', async () => {
    const { fetch } = fakeFetch([{ status: 403, body: { message: 'Forbidden' } }]);
    await expect(client(fetch).client.describe('x')).rejects.toBeInstanceOf(CofferAccessDeniedError);
  });

  it('retries 429, 5xx and network errors with full-jitter backoff, then succeeds', async () => {
    const { fetch, calls } = fakeFetch([
      { status: 429, body: { error: { code: 'limit_exceeded', message: 'slow down', requestId: 'r' } } },
      { status: 503, body: { error: { code: 'sealed', message: 'sealed', requestId: 'r' } } },
      new TypeError('fetch failed'),
      { status: 200, body: read() },
    ]);
    const { client: c, sleeps } = client(fetch, { retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 150 } });
    expect((await c.getSecretValue({ secretId: 'prod/db' })).SecretString).toBe('s3cr3t');
    expect(calls).toHaveLength(4);
    // random() = 0.5 of min(cap, base·2^(n−1)): 50, 75 (capped at 150), 75.
    expect(sleeps).toEqual([50, 75, 75]);
  });

  it('gives up after maxAttempts with the last typed error', async () => {
    const network = fakeFetch([new TypeError('fetch failed')]);
    const err = await client(network.fetch)
      .client.getSecretValue({ secretId: 'x' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CofferNetworkError);
    expect(network.calls).toHaveLength(3);
    const throttled = fakeFetch([{ status: 429, body: 'Too Many Requests' }]);
    await expect(client(throttled.fetch).client.describe('x')).rejects.toBeInstanceOf(CofferThrottledError);
    const broken = fakeFetch([{ status: 500, body: { error: { code: 'internal', message: 'internal error' } } }]);
    await expect(client(broken.fetch).client.describe('x')).rejects.toBeInstanceOf(CofferServerError);
    expect(broken.calls).toHaveLength(3);
  });

  it('turns a 2xx body of the wrong shape into an invalid_response error', async () => {
    const { fetch } = fakeFetch([{ status: 200, body: { hello: 'world' } }]);
    const err = await client(fetch)
      .client.getSecretValue({ secretId: 'x' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CofferClientError);
    expect((err as CofferClientError).code).toBe('invalid_response');
  });

  it('serves repeated reads from its cache and, after the TTL, re-confirms with a metadata read only', async () => {
    let now = 0;
    const { fetch, calls } = fakeFetch((call) =>
      call.url.pathname.startsWith('/v1/secret/metadata/')
        ? { status: 200, body: describeBody({ v1: ['AWSCURRENT'] }) }
        : { status: 200, body: read() },
    );
    const { client: c } = client(fetch, { cache: { ttlMs: 1000 }, now: () => now });
    await c.getSecretValue({ secretId: 'prod/db' });
    await c.getSecretValue({ secretId: 'prod/db' });
    expect(calls).toHaveLength(1);
    now = 1500;
    expect((await c.getSecretValue({ secretId: 'prod/db' })).SecretString).toBe('s3cr3t');
    expect(calls.map((x) => x.url.pathname)).toEqual(['/v1/secret/data/prod/db', '/v1/secret/metadata/prod/db']);
    await c.getSecretValue({ secretId: 'prod/db' }, { forceRefresh: true });
    expect(calls).toHaveLength(3);
    expect(c.cacheStats()).toMatchObject({ hits: 1, unchanged: 1 });
  });

  it('puts with one client request token reused by retries, and drops the secret from its cache', async () => {
    const { fetch, calls } = fakeFetch((call) => {
      if (call.method === 'PUT') {
        const puts = calls.filter((c) => c.method === 'PUT').length;
        return puts === 1
          ? { status: 502, body: 'Bad Gateway' }
          : { status: 200, body: { arn: 'arn:x', name: 'prod/db', versionId: 'v2', versionStages: ['AWSCURRENT'] } };
      }
      return { status: 200, body: read() };
    });
    const { client: c } = client(fetch);
    await c.getSecretValue({ secretId: 'prod/db' });
    const put = await c.putSecretValue({ secretId: 'prod/db', secretBinary: new Uint8Array([0, 1, 2]) });
    expect(put).toEqual({ ARN: 'arn:x', Name: 'prod/db', VersionId: 'v2', VersionStages: ['AWSCURRENT'] });
    const bodies = calls.filter((x) => x.method === 'PUT').map((x) => JSON.parse(x.body!));
    expect(bodies).toHaveLength(2);
    expect(bodies[0].binary).toBe('AAEC');
    expect(bodies[0].clientRequestToken).toMatch(/^[0-9a-f-]{36}$/);
    expect(bodies[1].clientRequestToken).toBe(bodies[0].clientRequestToken);
    await c.getSecretValue({ secretId: 'prod/db' });
    expect(calls.filter((x) => x.method === 'GET')).toHaveLength(2);
  });

  it('refuses a put with both or neither of secretString and secretBinary, without a call', async () => {
    const { fetch, calls } = fakeFetch([{ status: 200, body: {} }]);
    const { client: c } = client(fetch);
    await expect(c.putSecretValue({ secretId: 'x' })).rejects.toMatchObject({ code: 'validation' });
    await expect(
      c.putSecretValue({ secretId: 'x', secretString: 'a', secretBinary: new Uint8Array([1]) }),
    ).rejects.toMatchObject({ code: 'validation' });
    expect(calls).toHaveLength(0);
  });

  it('describes with epoch-second dates and the version map', async () => {
    const { fetch } = fakeFetch([
      { status: 200, body: { ...describeBody({ v1: ['AWSCURRENT'] }), deletedAt: '2026-01-03T00:00:00.000Z' } },
    ]);
    const d = await client(fetch).client.describe('prod/db');
    expect(d.VersionIdsToStages).toEqual({ v1: ['AWSCURRENT'] });
    expect(d.CreatedDate).toBe(Date.parse('2026-01-02T03:04:05.000Z') / 1000);
    expect(d.DeletedDate).toBe(Date.parse('2026-01-03T00:00:00.000Z') / 1000);
  });

  it('batchGet reports each failed secret in Errors and returns the rest', async () => {
    const { fetch } = fakeFetch((call) =>
      call.url.pathname.endsWith('/missing')
        ? { status: 404, body: { error: { code: 'not_found', message: 'no such secret', requestId: 'r' } } }
        : { status: 200, body: read({ name: call.url.pathname.split('/').at(-1) }) },
    );
    const out = await client(fetch).client.batchGet(['a', 'missing', { secretId: 'b', versionStage: 'AWSCURRENT' }]);
    expect(out.SecretValues.map((v) => v.Name)).toEqual(['a', 'b']);
    expect(out.Errors).toHaveLength(1);
    expect(out.Errors[0]).toMatchObject({
      SecretId: 'missing',
      ErrorCode: 'CofferNotFoundError',
      Message: 'no such secret',
    });
  });

  it('signs with SigV4 so that the server’s verifier accepts the request (path, query and body included)', async () => {
    const credentials = { accessKeyId: 'AKCFTESTKEY', secretAccessKey: 'not-a-real-secret' };
    const verifier = new SigV4Verifier({
      accessKeys: {
        secretFor: async (id: string) =>
          id === credentials.accessKeyId
            ? {
                record: { accessKeyId: id, principal: 'ci', policies: [], createdAt: 0, status: 'active' as const },
                secret: credentials.secretAccessKey,
              }
            : undefined,
      },
      clock: { now: () => Date.now() },
      services: ['coffer'],
      regions: ['eu-west-1'],
      hosts: { names: ['coffer.test'] },
    });
    const verified: string[] = [];
    const { fetch } = fakeFetch((call) => ({
      status: 200,
      body: call.method === 'PUT' ? { arn: 'a', name: 'a/b@c', versionId: 'v', versionStages: [] } : read(),
    }));
    const checking = (async (input: URL | string, init: RequestInit = {}) => {
      const url = new URL(input.toString());
      const headers = Object.fromEntries(
        Object.entries(init.headers as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]),
      );
      const query: Record<string, string> = {};
      for (const [k, v] of url.searchParams) query[k] = v;
      const result = await verifier.verify({
        method: init.method ?? 'GET',
        rawPath: url.pathname,
        query,
        headers: { ...headers, host: url.host },
        body: typeof init.body === 'string' ? Buffer.from(init.body) : undefined,
      });
      verified.push(`${result.service}/${result.region}`);
      return fetch(input, init);
    }) as typeof globalThis.fetch;
    const c = new CofferClient({
      endpoint: 'http://coffer.test:8270',
      auth: { sigv4: { credentials, region: 'eu-west-1' } },
      fetch: checking,
      cache: false,
      env: {},
    });
    await c.getSecretValue({ secretId: 'a/b@c', versionStage: 'AWSPREVIOUS' });
    await c.putSecretValue({ secretId: 'a/b@c', secretString: 'v' });
    expect(verified).toEqual(['coffer/eu-west-1', 'coffer/eu-west-1']);
  });
});
