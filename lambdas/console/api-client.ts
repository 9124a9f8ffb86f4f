/**
 * The console's one way to Coffer: `fetch` to the native API with the token in the `X-Coffer-Token` header, or every
 * request signed with SigV4 by AWS credentials (API Gateway's IAM authorisation on AWS, service `execute-api`) or a
 * Coffer access key (the local server, service `coffer`). The token or the keys live in this object only (never in
 * storage, a cookie, a URL or a log), so a page on another site cannot make the browser send them, and closing the tab
 * forgets them.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type * as z from 'zod';

/** An answer of the API that is not a success, with the server's own message (4xx) or none (5xx). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiCall {
  readonly method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly body?: unknown;
  readonly query?: Readonly<Record<string, string | undefined>>;
}

/** A secret name or prefix as path segments, each encoded (names hold `/`, which separates them). */
export function namePath(name: string): string {
  return name
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}

/** AWS credentials or a Coffer access key, and where the signature is scoped. */
export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** A temporary credential's session token (AWS only: the local server refuses them). */
  readonly sessionToken?: string | undefined;
  readonly region: string;
  /** `execute-api` for API Gateway on AWS, `coffer` for the local server. */
  readonly service: string;
}

export class CofferApi {
  #token: string | undefined;
  #signer: SignatureV4 | undefined;

  /** @param baseUrl the API's origin (empty: the console's own) */
  constructor(private readonly baseUrl: string) {}

  get signedIn(): boolean {
    return this.#token !== undefined || this.#signer !== undefined;
  }

  useToken(token: string): void {
    this.#signer = undefined;
    this.#token = token;
  }

  /** Signs every request from now on with `credentials` (SigV4), instead of sending a token. */
  useCredentials(credentials: SigningCredentials): void {
    this.#token = undefined;
    this.#signer = new SignatureV4({
      service: credentials.service,
      region: credentials.region,
      sha256: Sha256,
      credentials: {
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey,
        ...(credentials.sessionToken !== undefined && { sessionToken: credentials.sessionToken }),
      },
    });
  }

  forget(): void {
    this.#token = undefined;
    this.#signer = undefined;
  }

  /**
   * Calls `path` and reads the answer with `schema`.
   * @throws ApiError for any status outside 2xx, or an answer the schema refuses
   */
  async call<S extends z.ZodType>(path: string, schema: S, options: ApiCall = {}): Promise<z.infer<S>> {
    const query = Object.entries(options.query ?? {}).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    );
    const url = `${this.baseUrl}${path}${query.length === 0 ? '' : `?${new URLSearchParams(query).toString()}`}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token !== undefined) headers['x-coffer-token'] = this.#token;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const method = options.method ?? 'GET';
    const body = options.body === undefined ? null : JSON.stringify(options.body);
    const init = {
      method,
      headers: this.#signer === undefined ? headers : await sign(this.#signer, url, method, headers, body),
      body,
      // Nothing of Coffer's is cached by the browser: answers may hold values.
      cache: 'no-store' as const,
      credentials: 'omit' as const,
      referrerPolicy: 'no-referrer' as const,
    };
    const response = await fetch(url, init);
    const text = await response.text();
    const json: unknown = text === '' ? undefined : safeJson(text);
    if (!response.ok) {
      const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiError(response.status, error?.code ?? 'error', error?.message ?? `HTTP ${response.status}`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new ApiError(response.status, 'unexpected_answer', `unexpected answer from ${path}`);
    return parsed.data;
  }
}

/**
 * The headers of a request signed for `url`. The signature covers exactly what the browser sends: `host` as the browser
 * sets it (the URL's host, with its port unless the default), `x-amz-date`, `x-amz-content-sha256`, the session token
 * and `content-type`; `host` is then left to the browser (a page cannot set it) and `accept` is sent unsigned.
 */
async function sign(
  signer: SignatureV4,
  url: string,
  method: string,
  headers: Readonly<Record<string, string>>,
  body: string | null,
): Promise<Record<string, string>> {
  // A relative URL (the API on the console's own origin) is the page's origin.
  const target = new URL(url, (globalThis as { location?: { href: string } }).location?.href);
  const query: Record<string, string> = {};
  for (const [key, value] of target.searchParams) query[key] = value;
  const toSign: Record<string, string> = { host: target.host };
  if (headers['content-type'] !== undefined) toSign['content-type'] = headers['content-type'];
  const signed = await signer.sign({
    method,
    protocol: target.protocol,
    hostname: target.hostname,
    ...(target.port !== '' && { port: Number(target.port) }),
    path: target.pathname,
    query,
    headers: toSign,
    ...(body !== null && { body }),
  });
  const sent: Record<string, string> = { ...headers };
  for (const [name, value] of Object.entries(signed.headers)) {
    if (name.toLowerCase() !== 'host') sent[name.toLowerCase()] = String(value);
  }
  return sent;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
