import { CliError, ExitCode, exitCodeForStatus } from '../../agent/exit-codes.ts';
import type { RequestAuthoriser } from '../../sdk/auth.ts';

export interface ApiClientOptions {
  /** @default process.env.COFFER_ADDR ?? 'http://127.0.0.1:8270' */
  readonly address: string;
  readonly token: string | undefined;
  /** Signs a request (SigV4) instead of sending the token. */
  readonly sign?: RequestAuthoriser | undefined;
}

/** A small JSON client for the native API, used by the CLI. Errors become `CliError`s with the documented codes. */
export class ApiClient {
  constructor(private readonly options: ApiClientOptions) {}

  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: { body?: unknown; query?: Record<string, string | number | boolean | undefined> } = {},
  ): Promise<T> {
    const url = new URL(path, this.options.address);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    let headers: Record<string, string> = {};
    if (this.options.token !== undefined) headers['x-coffer-token'] = this.options.token;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (this.options.sign !== undefined) {
      try {
        headers = await this.options.sign({ method, url, headers, body: payload });
      } catch (err) {
        const reason = err instanceof Error ? err.message : 'unknown error';
        throw new CliError(`cannot sign the request (COFFER_AUTH=sigv4): ${reason}`, ExitCode.denied);
      }
    }
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body: payload });
    } catch (err) {
      const reason = err instanceof Error && err.cause instanceof Error ? err.cause.message : 'connection failed';
      throw new CliError(`cannot reach Coffer at ${this.options.address}: ${reason}`, ExitCode.unavailable);
    }
    const text = await response.text();
    if (!response.ok) {
      let message = `HTTP ${response.status}`;
      try {
        const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
        if (parsed.error?.message !== undefined) message = `${parsed.error.message} (${parsed.error.code})`;
      } catch {
        // Not JSON: keep the status line.
      }
      throw new CliError(message, exitCodeForStatus(response.status));
    }
    return (text.length === 0 ? {} : JSON.parse(text)) as T;
  }
}
