import { afterEach, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { ApiError, CofferApi, namePath } from '../../../lambdas/console/api-client.ts';

type Call = { url: string; init: RequestInit };

function answering(status: number, body: unknown): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(body === undefined ? null : JSON.stringify(body), { status });
  });
  return calls;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('Class: CofferApi', () => {
  it('sends the token in X-Coffer-Token only: never in the URL, never with cookies, never cached', async () => {
    const calls = answering(200, { ok: true });
    const api = new CofferApi('https://coffer.example');
    api.useToken('s.the-token');
    await api.call('/v1/secret/data/app/db', z.object({ ok: z.boolean() }), {
      query: { versionId: 'v1', stage: undefined },
    });
    const [call] = calls;
    expect(call!.url).toBe('https://coffer.example/v1/secret/data/app/db?versionId=v1');
    expect(call!.url).not.toContain('the-token');
    expect(call!.init.headers).toMatchObject({ 'x-coffer-token': 's.the-token' });
    expect(call!.init).toMatchObject({ credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer' });
  });

  it('forgets the token: later calls carry none', async () => {
    const calls = answering(200, {});
    const api = new CofferApi('');
    api.useToken('s.the-token');
    api.forget();
    expect(api.signedIn).toBe(false);
    await api.call('/v1/sys/health', z.object({}));
    expect(calls[0]!.init.headers).not.toHaveProperty('x-coffer-token');
  });

  it("sends a JSON body, and turns a refusal into an ApiError with the API's message", async () => {
    const calls = answering(403, { error: { code: 'permission_denied', message: 'not allowed here', requestId: 'r' } });
    const api = new CofferApi('');
    const refused = api.call('/v1/secrets', z.unknown(), { method: 'POST', body: { name: 'a', value: 'b' } });
    await expect(refused).rejects.toEqual(new ApiError(403, 'permission_denied', 'not allowed here'));
    expect(calls[0]!.init).toMatchObject({ method: 'POST', body: '{"name":"a","value":"b"}' });
    expect(calls[0]!.init.headers).toMatchObject({ 'content-type': 'application/json' });
  });

  it('says only the status for an answer without a Coffer error, and refuses an answer of another shape', async () => {
    answering(502, undefined);
    await expect(new CofferApi('').call('/v1/x', z.unknown())).rejects.toMatchObject({
      status: 502,
      message: 'HTTP 502',
    });
    answering(200, { unexpected: true });
    await expect(new CofferApi('').call('/v1/x', z.object({ name: z.string() }))).rejects.toMatchObject({
      code: 'unexpected_answer',
    });
  });
});

describe('Function: namePath', () => {
  it('keeps the slashes of a secret name and encodes each segment', () => {
    expect(namePath('app/db password/#1')).toBe('app/db%20password/%231');
  });
});
