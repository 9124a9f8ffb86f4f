import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { CofferNotFoundError } from '../../../lambdas/sdk/errors.ts';
import { cofferSecrets } from '../../../lambdas/sdk/middy.ts';
import type { GetSecretValueInput, GetSecretValueOutput } from '../../../lambdas/sdk/types.ts';

/** A client stand-in typed against the real one (`Pick<CofferClient, 'getSecretValue'>`), with a call log. */
function fakeClient(values: Record<string, string | Error>) {
  const calls: GetSecretValueInput[] = [];
  return {
    calls,
    values,
    async getSecretValue(input: GetSecretValueInput): Promise<GetSecretValueOutput> {
      calls.push(input);
      const v = values[input.secretId];
      if (v === undefined || v instanceof Error) throw v ?? new CofferNotFoundError('no', { code: 'not_found' });
      return { ARN: 'a', Name: input.secretId, VersionId: 'v', SecretString: v, VersionStages: [], CreatedDate: 0 };
    },
  };
}

const context = () => ({ functionName: 'fn' }) as Context;
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('Middleware: cofferSecrets', () => {
  it('prefetches at cold start and puts the values (JSON parsed) into internal and, with setToContext, context', async () => {
    const client = fakeClient({ 'prod/db': '{"user":"app","password":"pw"}', 'prod/key': 'plain-key' });
    let seen: { internal?: unknown; context?: Record<string, unknown> } = {};
    const handler = middy()
      .use(
        cofferSecrets({
          client,
          fetchData: { db: 'prod/db', key: { secretId: 'prod/key', versionStage: 'AWSCURRENT' } },
          setToContext: true,
        }),
      )
      .before((request) => {
        seen = { internal: { ...request.internal }, context: request.context as unknown as Record<string, unknown> };
      })
      .handler(async () => 'ok');
    expect(client.calls).toHaveLength(2); // before any invocation
    await handler({}, context());
    expect(seen.internal).toEqual({ db: { user: 'app', password: 'pw' }, key: 'plain-key' });
    expect(seen.context?.db).toEqual({ user: 'app', password: 'pw' });
    expect(client.calls).toHaveLength(2);
  });

  it('with disablePrefetch, fetches on the first invocation, and does not touch context by default', async () => {
    const client = fakeClient({ s: 'v' });
    let ctx: Record<string, unknown> = {};
    const handler = middy()
      .use(cofferSecrets({ client, fetchData: { s: 's' }, disablePrefetch: true }))
      .handler(async (_event: unknown, c: Context) => {
        ctx = c as unknown as Record<string, unknown>;
      });
    await settle();
    expect(client.calls).toHaveLength(0);
    await handler({}, context());
    expect(client.calls).toHaveLength(1);
    expect(ctx.s).toBeUndefined();
  });

  it('reuses values for cacheExpiry ms, then fetches again; 0 fetches on every invocation', async () => {
    let now = 0;
    const client = fakeClient({ s: 'v' });
    const handler = middy()
      .use(cofferSecrets({ client, fetchData: { s: 's' }, cacheExpiry: 1000, now: () => now, disablePrefetch: true }))
      .handler(async () => undefined);
    await handler({}, context());
    now = 999;
    await handler({}, context());
    expect(client.calls).toHaveLength(1);
    now = 1000;
    await handler({}, context());
    expect(client.calls).toHaveLength(2);

    const never = fakeClient({ s: 'v' });
    const uncached = middy()
      .use(cofferSecrets({ client: never, fetchData: { s: 's' }, cacheExpiry: 0, disablePrefetch: true }))
      .handler(async () => undefined);
    await uncached({}, context());
    await uncached({}, context());
    expect(never.calls).toHaveLength(2);
  });

  it('fails the invocation when a fetch fails, and does not remember the failure', async () => {
    const client = fakeClient({ s: new CofferNotFoundError('missing', { code: 'not_found' }) });
    const handler = middy()
      .use(cofferSecrets({ client, fetchData: { s: 's' }, setToContext: true }))
      .handler(async (_e: unknown, c: Context) => (c as unknown as Record<string, unknown>).s);
    await settle();
    expect(client.calls).toHaveLength(1); // the failed prefetch
    await expect(handler({}, context())).rejects.toBeInstanceOf(CofferNotFoundError);
    client.values.s = 'now';
    expect(await handler({}, context())).toBe('now');
    expect(client.calls).toHaveLength(3);
  });
});
