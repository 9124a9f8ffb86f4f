/**
 * The console's one way to Coffer: `fetch` to the native API with the token in the `X-Coffer-Token` header. The token
 * lives in this object only (never in storage, a cookie, a URL or a log), so a page on another site cannot make the
 * browser send it, and closing the tab forgets it.
 */
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

export class CofferApi {
  #token: string | undefined;

  /** @param baseUrl the API's origin (empty: the console's own) */
  constructor(private readonly baseUrl: string) {}

  get signedIn(): boolean {
    return this.#token !== undefined;
  }

  useToken(token: string): void {
    this.#token = token;
  }

  forget(): void {
    this.#token = undefined;
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
    const init = {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? null : JSON.stringify(options.body),
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

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
