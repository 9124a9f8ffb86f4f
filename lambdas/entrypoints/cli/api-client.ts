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
  /**
   * A PEM file of the CA certificates that alone are trusted for an https address (a dev-TLS node's
   * `<data-dir>/tls/ca.pem`). @default process.env.COFFER_CACERT, else the PEM text of COFFER_CACERT_PEM (the
   * injected agent's: its image has no file to name), else the system's trust store
   */
  readonly caCertFile?: string | undefined;
  /**
   * Ask for the answer response-wrapped (`--wrap-ttl`): a credential-bearing answer comes back as a single-use
   * wrapping token, which `onWrapped` shows instead of the command's own output.
   */
  readonly wrapTtl?: string | undefined;
  /** The region requests act in, sent as `X-Coffer-Region` (`--region`). @default the node's home region */
  readonly region?: string | undefined;
  readonly onWrapped?: ((wrapInfo: Record<string, unknown>) => void) | undefined;
  /**
   * A client certificate (PEM file) and its key presented over TLS: certificate login, mTLS listeners.
   * @default process.env.COFFER_CLIENT_CERT and COFFER_CLIENT_KEY, else none
   */
  readonly clientCertFile?: string | undefined;
  readonly clientKeyFile?: string | undefined;
}

/**
 * Thrown once a wrapped answer has been shown: the command stops there (its own output would need the answer it
 * no longer has), and the CLI exits 0.
 */
export class WrappedAnswer extends Error {
  constructor() {
    super('the answer was response-wrapped');
    this.name = 'WrappedAnswer';
  }
}

/**
 * The CLI's view of the one HTTP client (`sdk/http-client.ts`): no retries and no timeout (a person is waiting and
 * sees the error), and errors as `CliError`s with the documented exit codes.
 */
export class ApiClient {
  private readonly http: CofferHttp;

  constructor(private readonly options: ApiClientOptions) {
    const { token, sign } = options;
    const setting = (given: string | undefined, variable: string | undefined) =>
      given ?? (variable === '' ? undefined : variable);
    const caCertFile = setting(options.caCertFile, process.env.COFFER_CACERT);
    const caCertPem = setting(undefined, process.env.COFFER_CACERT_PEM);
    const clientCertFile = setting(options.clientCertFile, process.env.COFFER_CLIENT_CERT);
    const clientKeyFile = setting(options.clientKeyFile, process.env.COFFER_CLIENT_KEY);
    if ((clientCertFile === undefined) !== (clientKeyFile === undefined)) {
      throw new CliError(
        'a client certificate needs its key: give --client-cert and --client-key (COFFER_CLIENT_CERT, COFFER_CLIENT_KEY) together',
        ExitCode.usage,
      );
    }
    this.http = new CofferHttp({
      endpoint: options.address,
      ...(caCertFile !== undefined
        ? { caCert: { file: caCertFile } }
        : caCertPem !== undefined
          ? { caCert: { pem: caCertPem } }
          : {}),
      ...(clientCertFile === undefined ? {} : { clientCert: { file: clientCertFile } }),
      ...(clientKeyFile === undefined ? {} : { clientKey: { file: clientKeyFile } }),
      authorise: async (request) => {
        const withToken = token === undefined ? request.headers : { ...request.headers, 'x-coffer-token': token };
        const wrapped =
          options.wrapTtl === undefined ? withToken : { ...withToken, 'x-coffer-wrap-ttl': options.wrapTtl };
        const headers = options.region === undefined ? wrapped : { ...wrapped, 'x-coffer-region': options.region };
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
    let answer: unknown;
    try {
      answer = (await this.http.request(method, path, options)) ?? {};
    } catch (err) {
      throw this.cliError(err);
    }
    const wrapInfo = this.options.wrapTtl === undefined ? undefined : (answer as { wrap_info?: unknown }).wrap_info;
    if (typeof wrapInfo === 'object' && wrapInfo !== null) {
      this.options.onWrapped?.(wrapInfo as Record<string, unknown>);
      throw new WrappedAnswer();
    }
    return answer as T;
  }

  private cliError(err: unknown): unknown {
    if (err instanceof CofferNetworkError) {
      const failure = err.cause;
      const underlying = failure instanceof Error && failure.cause instanceof Error ? failure.cause : undefined;
      const code = (underlying as NodeJS.ErrnoException | undefined)?.code;
      if (code !== undefined && CERTIFICATE_ERRORS.has(code)) {
        return new CliError(
          `cannot reach Coffer at ${this.options.address}: its TLS certificate is not trusted (${underlying!.message}); ` +
            'set COFFER_CACERT to the PEM file of the CA that issued it',
          ExitCode.unavailable,
        );
      }
      // A failure before any request left (the CA file unreadable) has no underlying cause: its own message says why.
      const reason =
        underlying?.message ??
        (failure instanceof Error && failure.cause === undefined ? failure.message : 'connection failed');
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

/** node:tls's verification failures: the server's certificate does not chain to a trusted CA or names another host. */
const CERTIFICATE_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
