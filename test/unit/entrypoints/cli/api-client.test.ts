import { afterEach, describe, expect, it, vi } from 'vitest';
import { CliError, ExitCode } from '../../../../lambdas/agent/exit-codes.ts';
import { ApiClient } from '../../../../lambdas/entrypoints/cli/api-client.ts';

function answer(status: number, body: string): void {
  vi.stubGlobal(
    'fetch',
    vi.fn(async () => new Response(body === '' ? null : body, { status })),
  );
}

async function failure(client: ApiClient): Promise<CliError> {
  const err = await client.call('GET', '/v1/sys/policies').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CliError);
  return err as CliError;
}

const client = new ApiClient({ address: 'http://127.0.0.1:1', token: 'tok' });

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('Class: ApiClient', () => {
  it('sends the region to act in as X-Coffer-Region (--region), and none without one', async () => {
    const seen: (string | null)[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (_url: string, init: RequestInit) => {
        seen.push(new Headers(init.headers).get('x-coffer-region'));
        return new Response('{}', { status: 200 });
      }),
    );
    await new ApiClient({ address: 'http://127.0.0.1:1', token: 'tok', region: 'eu-west-1' }).call('GET', '/v1/x');
    await client.call('GET', '/v1/x');
    expect(seen).toEqual(['eu-west-1', null]);
  });

  it('answers the JSON body, and {} for an empty one', async () => {
    answer(200, '{"policies":["root"]}');
    expect(await client.call('GET', '/v1/sys/policies')).toEqual({ policies: ['root'] });
    answer(204, '');
    expect(await client.call('DELETE', '/v1/sys/policies/x')).toEqual({});
  });

  it('shows the server’s message and code, with the exit code of the status', async () => {
    answer(404, JSON.stringify({ error: { code: 'not_found', message: 'no policy x', requestId: 'r' } }));
    const err = await failure(client);
    expect(err.message).toBe('no policy x (not_found)');
    expect(err.exitCode).toBe(ExitCode.notFound);
  });

  it('shows the status alone for an answer that is not Coffer’s error body', async () => {
    answer(502, '<html>bad gateway</html>');
    const err = await failure(client);
    expect(err.message).toBe('HTTP 502');
    expect(err.exitCode).toBe(ExitCode.failure);
  });

  it('says it cannot reach the server, with the reason', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => {
        throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') });
      }),
    );
    const err = await failure(client);
    expect(err.message).toBe('cannot reach Coffer at http://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1');
    expect(err.exitCode).toBe(ExitCode.unavailable);
  });

  it('signs the request with the token header in it, and reports a signing failure as denied', async () => {
    const fetch = vi.fn(async () => new Response('{}', { status: 200 }));
    vi.stubGlobal('fetch', fetch);
    const sign = vi.fn(async (request: { headers: Record<string, string> }) => ({
      ...request.headers,
      authorization: 'AWS4',
    }));
    await new ApiClient({ address: 'http://127.0.0.1:1', token: 'tok', sign }).call('GET', '/v1/sys/health');
    expect(sign.mock.calls[0]?.[0].headers).toEqual({ 'x-coffer-token': 'tok' });
    expect(fetch.mock.calls[0]).toMatchObject([
      expect.anything(),
      { headers: { 'x-coffer-token': 'tok', authorization: 'AWS4' } },
    ]);
    const broken = new ApiClient({
      address: 'http://127.0.0.1:1',
      token: undefined,
      sign: async () => {
        throw new Error('no credentials');
      },
    });
    const err = await failure(broken);
    expect(err.message).toBe('cannot sign the request (COFFER_AUTH=sigv4): no credentials');
    expect(err.exitCode).toBe(ExitCode.denied);
  });
});
