import { CliError, ExitCode, exitCodeForStatus } from '../../agent/exit-codes.ts';
import type { RequestAuthoriser } from '../../sdk/auth.ts';
import { CofferClientError, CofferNetworkError } from '../../sdk/errors.ts';
import { CofferHttp } from '../../sdk/http-client.ts';

export interface ApiClientOptions {
  /** @default process.env.COFFER_ADDR ?? 'http://127.0.0.1:8270' */
  readonly address: string;
  readonly token: string | undefined;
  /** Signs a request (SigV4) instead of sending the token. */
  readonly sign?: RequestAuthoriser | undefined;
}

/**
 * The CLI's view of the one HTTP client (`sdk/http-client.ts`): no retries and no timeout (a person is waiting and
 * sees the error), and errors as `CliError`s with the documented exit codes.
 */
export class ApiClient {
  private readonly http: CofferHttp;

  constructor(private readonly options: ApiClientOptions) {
    const { token, sign } = options;
    this.http = new CofferHttp({
      endpoint: options.address,
      authorise: async (request) => {
        const headers = token === undefined ? request.headers : { ...request.headers, 'x-coffer-token': token };
        if (sign === undefined) return headers;
        try {
          return await sign({ ...request, headers });
        } catch (err) {
          const reason = err instanceof Error ? err.message : 'unknown error';
          throw new CliError(`cannot sign the request (COFFER_AUTH=sigv4): ${reason}`, ExitCode.denied);
        }
      },
    });
  }

  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: { body?: unknown; query?: Record<string, string | number | boolean | undefined> } = {},
  ): Promise<T> {
    try {
      return ((await this.http.request(method, path, options)) ?? {}) as T;
    } catch (err) {
      throw this.cliError(err);
    }
  }

  private cliError(err: unknown): unknown {
    if (err instanceof CofferNetworkError) {
      const failure = err.cause;
      const reason =
        failure instanceof Error && failure.cause instanceof Error ? failure.cause.message : 'connection failed';
      return new CliError(`cannot reach Coffer at ${this.options.address}: ${reason}`, ExitCode.unavailable);
    }
    if (err instanceof CofferClientError && err.status !== undefined) {
      // The server's message and code when it sent its error body; a proxy's answer shows as its status alone.
      const message = err.code.startsWith('http_') ? `HTTP ${err.status}` : `${err.message} (${err.code})`;
      return new CliError(message, exitCodeForStatus(err.status));
    }
    return err;
  }
}
