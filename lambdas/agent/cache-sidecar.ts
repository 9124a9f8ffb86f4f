import { boundHostName } from '../core/auth/allowed-hosts.ts';
import { CofferClient } from '../sdk/client.ts';
import { fetchTrusting } from '../sdk/http-client.ts';
import { type ListenerTls, startSecretsCache } from '../sdk/secrets-server.ts';

export interface CacheSidecarOptions {
  readonly address: string;
  readonly port: number;
  /** @default '127.0.0.1' */
  readonly host: string;
  /** The token the agent holds now: renewed or replaced from the token file while the cache runs. */
  readonly token: () => string | undefined;
  /** What callers must send in `X-Aws-Parameters-Secrets-Token`; undefined lets every local process read. */
  readonly callerToken: string | undefined;
  /**
   * `Host` names callers may use besides loopback and `host` itself (when it is an address, not a wildcard), e.g. the
   * name other containers reach the sidecar by. @default none
   */
  readonly allowedHosts?: readonly string[];
  /** CA certificates (PEM) that alone are trusted for an https `address` (COFFER_CACERT's). @default the system's */
  readonly caCert?: string | Buffer | undefined;
  /** The cache listener's own certificate and key. @default plain HTTP */
  readonly tls?: ListenerTls | undefined;
}

export interface CacheSidecar {
  readonly address: string;
  /** Serves a renewed certificate to new handshakes (SIGHUP), without dropping connections. */
  reloadTls(tls: ListenerTls): void;
  close(): Promise<void>;
}

/**
 * Starts the local secrets cache (the Lambda extension's listener, `lambdas/sdk/secrets-server.ts`) beside the agent. The cache
 * reads Coffer through a client whose every request carries the agent's current token, so renewals and a replaced
 * token file apply to it too.
 */
export async function startCacheSidecar(options: CacheSidecarOptions): Promise<CacheSidecar> {
  const send = options.caCert === undefined ? fetch : await fetchTrusting(options.caCert);
  const withCurrentToken: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    const token = options.token();
    if (token !== undefined) headers.set('x-coffer-token', token);
    return send(input, { ...init, headers });
  };
  const coffer = new CofferClient({
    endpoint: options.address,
    auth: { token: options.token() ?? '' },
    cache: false,
    fetch: withCurrentToken,
  });
  const server = await startSecretsCache({
    coffer,
    port: options.port,
    host: options.host,
    token: options.callerToken,
    allowedHosts: { names: sidecarHosts(options) },
    tls: options.tls,
  });
  return { address: server.address, reloadTls: (tls) => server.reloadTls(tls), close: () => server.close() };
}

/** The names a sidecar answers to besides loopback: the configured ones and the address it listens on. */
function sidecarHosts(options: Pick<CacheSidecarOptions, 'host' | 'allowedHosts'>): string[] {
  const listen = boundHostName(options.host);
  return [...(options.allowedHosts ?? []), ...(listen === undefined ? [] : [listen])];
}
