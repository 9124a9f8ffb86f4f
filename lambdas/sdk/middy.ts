import type { MiddlewareObj, Request } from '@middy/core';
import type { CofferClient } from './client.ts';
import type { GetSecretValueInput, GetSecretValueOutput } from './types.ts';

/** Where one value comes from: a secret name (AWSCURRENT), or a name with a version id or label. */
export type CofferFetchTarget = string | GetSecretValueInput;

export interface CofferSecretsOptions {
  /** The client to read with (its own cache and retries apply underneath this middleware's cache). */
  readonly client: Pick<CofferClient, 'getSecretValue'>;
  /** Internal key → secret, as `@middy/secrets-manager`'s `fetchData: { key: secretId }`. */
  readonly fetchData: Readonly<Record<string, CofferFetchTarget>>;
  /** Also assign the values to the Lambda `context`. @default false */
  readonly setToContext?: boolean;
  /** How long fetched values are reused, in ms: -1 forever (until a fetch fails), 0 never. @default -1 */
  readonly cacheExpiry?: number;
  /** Fetch at cold start, outside the first invocation's time. @default false */
  readonly disablePrefetch?: boolean;
  /** @default Date.now */
  readonly now?: () => number;
}

/** Text values that are JSON become objects (as `@middy/util`'s jsonSafeParse); binary values stay base64. */
function secretValue(secret: GetSecretValueOutput): unknown {
  const text = secret.SecretString;
  if (text === undefined) return secret.SecretBinary;
  if (!/^\s*[[{]/.test(text)) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * A middy middleware that puts Coffer secrets into `request.internal` (and `context` with `setToContext`), like
 * `@middy/secrets-manager`. Values are fetched in parallel, at cold start unless `disablePrefetch`, and reused for
 * `cacheExpiry` ms. A failed fetch is not remembered: the next invocation tries again.
 *
 * @example
 * export const handler = middy(async (event, context) => connect(context.db.password)).use(
 *   cofferSecrets({ client: new CofferClient(), fetchData: { db: 'prod/db/credentials' }, setToContext: true }),
 * );
 */
export function cofferSecrets(options: CofferSecretsOptions): MiddlewareObj {
  const { client, fetchData } = options;
  const cacheExpiry = options.cacheExpiry ?? -1;
  const now = options.now ?? Date.now;
  const keys = Object.keys(fetchData);
  let cached: { values: Promise<Record<string, unknown>>; fetchedAt: number } | undefined;

  const fetchAll = (): Promise<Record<string, unknown>> =>
    Promise.all(
      keys.map(async (key) => {
        const target = fetchData[key]!;
        const secret = await client.getSecretValue(typeof target === 'string' ? { secretId: target } : target);
        return [key, secretValue(secret)] as const;
      }),
    ).then((entries) => Object.fromEntries(entries));

  const load = (): Promise<Record<string, unknown>> => {
    const fresh =
      cached !== undefined && cacheExpiry !== 0 && (cacheExpiry < 0 || now() - cached.fetchedAt < cacheExpiry);
    if (fresh) return cached!.values;
    const values = fetchAll();
    const entry = { values, fetchedAt: now() };
    cached = entry;
    values.catch(() => {
      if (cached === entry) cached = undefined;
    });
    return values;
  };

  if (options.disablePrefetch !== true && keys.length > 0) {
    // A failed prefetch is forgotten, so the first invocation fetches again and sees the error itself.
    load().catch(() => undefined);
  }

  return {
    name: 'coffer-secrets',
    before: async (request: Request) => {
      const values = await load();
      Object.assign(request.internal, values);
      if (options.setToContext === true) Object.assign(request.context, values);
    },
  };
}
