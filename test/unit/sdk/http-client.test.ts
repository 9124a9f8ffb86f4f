import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { tokenAuthoriser } from '../../../lambdas/sdk/auth.ts';
import {
  CofferClientError,
  CofferNetworkError,
  CofferNotFoundError,
  CofferThrottledError,
} from '../../../lambdas/sdk/errors.ts';
import { CofferHttp, type CofferHttpOptions } from '../../../lambdas/sdk/http-client.ts';

interface Sent {
  readonly url: string;
  readonly init: RequestInit | undefined;
}

/** A fetch that answers from a list, recording what was sent. */
function fakeFetch(answers: Array<() => Response>): { fetch: typeof fetch; sent: Sent[] } {
  const sent: Sent[] = [];
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    sent.push({ url: String(input), init });
    const next = answers.shift();
    if (next === undefined) throw new Error('no more answers');
    return next();
  }) as typeof globalThis.fetch;
  return { fetch, sent };
}

const json = (status: number, body: unknown) => () =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

function http(fetch: typeof globalThis.fetch, options: Partial<CofferHttpOptions> = {}) {
  return new CofferHttp({
    endpoint: 'http://coffer.test:8270/stage/',
    authorise: tokenAuthoriser('tok'),
    fetch,
    ...options,
  });
}

describe('Class: CofferHttp', () => {
  it('sends the query, a JSON body and the credential under the endpoint’s path, and returns the JSON answer', async () => {
    const { fetch, sent } = fakeFetch([json(200, { ok: 1 })]);
    const answer = await http(fetch).request('PUT', '/v1/x', {
      query: { a: 'b c', skip: undefined, n: 2 },
      body: { v: 1 },
    });
    expect(answer).toEqual({ ok: 1 });
    expect(sent[0]?.url).toBe('http://coffer.test:8270/stage/v1/x?a=b+c&n=2');
    expect(sent[0]?.init?.method).toBe('PUT');
    expect(sent[0]?.init?.body).toBe('{"v":1}');
    expect(sent[0]?.init?.headers).toEqual({ 'content-type': 'application/json', 'x-coffer-token': 'tok' });
  });

  it('answers undefined for an empty body (204)', async () => {
    const { fetch } = fakeFetch([() => new Response(null, { status: 204 })]);
    expect(await http(fetch).request('DELETE', '/v1/x')).toBeUndefined();
  });

  it('reads an answer with its schema, and refuses one of another shape as invalid_response', async () => {
    const { fetch } = fakeFetch([json(200, { name: 'a' }), json(200, { name: 7 })]);
    const client = http(fetch);
    expect(await client.call(z.object({ name: z.string() }), 'GET', '/v1/x')).toEqual({ name: 'a' });
    const err = await client.call(z.object({ name: z.string() }), 'GET', '/v1/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CofferClientError);
    expect((err as CofferClientError).code).toBe('invalid_response');
  });

  it('turns an error answer into its typed error, with the server’s code and request id', async () => {
    const { fetch } = fakeFetch([
      json(404, { error: { code: 'not_found', message: 'no such secret', requestId: 'r1' } }),
    ]);
    const err = await http(fetch)
      .request('GET', '/v1/x')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CofferNotFoundError);
    expect(err).toMatchObject({ status: 404, code: 'not_found', requestId: 'r1', message: 'no such secret' });
  });

  it('does not retry and sets no timeout unless asked (the CLI’s way)', async () => {
    const { fetch, sent } = fakeFetch([json(503, { error: { code: 'sealed', message: 'sealed', requestId: 'r' } })]);
    await expect(http(fetch).request('GET', '/v1/x')).rejects.toMatchObject({ status: 503 });
    expect(sent).toHaveLength(1);
    expect(sent[0]?.init?.signal).toBeUndefined();
  });

  it('retries network failures and 5xx with backoff when asked, each attempt under the timeout (the SDK’s way)', async () => {
    const down = () => {
      throw new TypeError('fetch failed', { cause: new Error('ECONNREFUSED') });
    };
    const { fetch, sent } = fakeFetch([down, json(500, {}), json(200, { ok: true })]);
    const sleeps: number[] = [];
    const client = http(fetch, {
      retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 2000 },
      timeoutMs: 1000,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
    });
    expect(await client.request('GET', '/v1/x')).toEqual({ ok: true });
    expect(sent).toHaveLength(3);
    expect(sleeps).toEqual([50, 100]);
    expect(sent.every((s) => s.init?.signal instanceof AbortSignal)).toBe(true);
  });

  it('retries a 429 whose Retry-After fits the backoff, and passes on at once one that says to wait longer', async () => {
    const limited = (retryAfter: string) => () =>
      new Response(JSON.stringify({ error: { code: 'throttled', message: 'locked out; retry after 900s' } }), {
        status: 429,
        headers: { 'content-type': 'application/json', 'retry-after': retryAfter },
      });
    const retry = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 2000 };
    const quick = fakeFetch([limited('1'), json(200, { ok: true })]);
    const quickClient = http(quick.fetch, { retry, sleep: async () => {}, random: () => 0.5 });
    expect(await quickClient.request('POST', '/v1/auth/approle/login')).toEqual({ ok: true });
    expect(quick.sent).toHaveLength(2);

    const locked = fakeFetch([limited('900'), json(200, { ok: true })]);
    const lockedClient = http(locked.fetch, { retry, sleep: async () => {}, random: () => 0.5 });
    const err = await lockedClient.request('POST', '/v1/auth/approle/login').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CofferThrottledError);
    expect((err as CofferThrottledError).retryAfterSeconds).toBe(900);
    expect(locked.sent).toHaveLength(1);
  });

  it('reports a failure to connect as a network error that keeps its cause', async () => {
    const cause = new TypeError('fetch failed', { cause: new Error('ECONNREFUSED') });
    const { fetch } = fakeFetch([
      () => {
        throw cause;
      },
    ]);
    const err = await http(fetch)
      .request('GET', '/v1/x')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CofferNetworkError);
    expect((err as CofferNetworkError).cause).toBe(cause);
  });
});
