import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { EgressGuard } from '../../core/egress/egress-policy.ts';
import { InternalError } from '../../core/errors.ts';
import type {
  KubernetesTokenReviewer,
  TokenReviewRequest,
  TokenReviewResult,
} from '../../core/ports/kubernetes-token-review.ts';

type ClientNode = typeof import('@kubernetes/client-node');

/** The most a TokenReview answer may hold: it is a small JSON document. */
const MAX_RESPONSE_BYTES = 1_048_576;

export interface ClientNodeTokenReviewerOptions {
  /** How long one review may take, connection included. @default 10_000 */
  readonly timeoutMs?: number;
}

/**
 * The TokenReview API through `@kubernetes/client-node`'s `AuthenticationV1Api.createTokenReview`, whose every
 * connection goes through the egress guard: the API server's host and port must be on `COFFER_EGRESS_ALLOW`, and the
 * connection dials the address the guard checked (so a second DNS answer cannot differ), verifying the server's
 * certificate against `kubernetes_ca_cert` (or the system's trust store) and its host name. No redirects, no proxy.
 *
 * client-node is loaded on the first review only (`import()`): it is large, and neither the CLI nor a server that
 * never reviews a token should pay for it.
 *
 * @example
 * const reviewer = new ClientNodeTokenReviewer(guard);
 * const status = await reviewer.review({ host: 'https://10.96.0.1', caCert, reviewerJwt, token });
 */
export class ClientNodeTokenReviewer implements KubernetesTokenReviewer {
  readonly #guard: EgressGuard;
  readonly #timeoutMs: number;
  #client: Promise<ClientNode> | undefined;

  constructor(guard: EgressGuard, options: ClientNodeTokenReviewerOptions = {}) {
    this.#guard = guard;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  async review(request: TokenReviewRequest): Promise<TokenReviewResult> {
    const base = new URL(request.host);
    const host = base.hostname.startsWith('[') ? base.hostname.slice(1, -1) : base.hostname;
    const port = base.port === '' ? 443 : Number(base.port);
    let address: string;
    try {
      address = await this.#guard.resolve({ host, port, purpose: 'kubernetes token review' });
    } catch (err) {
      throw new InternalError(`the TokenReview call to ${base.host} is not allowed by the egress allow-list`, {
        cause: err,
      });
    }
    const k8s = await this.#load();
    const configuration = k8s.createConfiguration({
      baseServer: new k8s.ServerConfiguration(request.host.replace(/\/+$/, ''), {}),
      authMethods: { BearerToken: `Bearer ${request.reviewerJwt}` },
      httpApi: k8s.wrapHttpLibrary({
        send: (context) => this.#send(k8s, context, { host, address, caCert: request.caCert }),
      }),
    });
    const api = new k8s.AuthenticationV1Api(configuration);
    let review: import('@kubernetes/client-node').V1TokenReview;
    try {
      review = await api.createTokenReview({
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: {
            token: request.token,
            ...(request.audiences !== undefined && { audiences: [...request.audiences] }),
          },
        },
      });
    } catch (err) {
      // client-node's ApiException carries the answer's body and headers; only its status code is kept here.
      const code = err instanceof k8s.ApiException ? `HTTP ${err.code}` : errorCode(err);
      throw new InternalError(`the TokenReview call to ${base.host} failed: ${code}`);
    }
    const status = review.status ?? {};
    return {
      authenticated: status.authenticated === true,
      username: status.user?.username,
      uid: status.user?.uid,
      extra: status.user?.extra,
      audiences: status.audiences,
      error: status.error,
    };
  }

  #load(): Promise<ClientNode> {
    this.#client ??= import('@kubernetes/client-node');
    return this.#client;
  }

  /** One HTTPS exchange with the API server at the checked `address`. */
  #send(
    k8s: ClientNode,
    context: import('@kubernetes/client-node').RequestContext,
    target: { host: string; address: string; caCert: string | undefined },
  ): Promise<import('@kubernetes/client-node').ResponseContext> {
    const family = isIP(target.address);
    const lookup: LookupFunction = (_host, options, callback) => {
      if ((options as { all?: boolean }).all === true) callback(null, [{ address: target.address, family }]);
      else callback(null, target.address, family);
    };
    const body = context.getBody();
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        context.getUrl(),
        {
          method: context.getHttpMethod(),
          headers: context.getHeaders(),
          lookup,
          agent: false,
          timeout: this.#timeoutMs,
          minVersion: 'TLSv1.2',
          ...(target.caCert !== undefined && { ca: target.caCert }),
          ...(isIP(target.host) === 0 && { servername: target.host }),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) {
              res.destroy(new Error('the TokenReview answer is larger than 1 MiB'));
              return;
            }
            chunks.push(chunk);
          });
          res.on('error', reject);
          res.on('end', () => {
            const headers: Record<string, string> = {};
            for (const [name, value] of Object.entries(res.headers)) {
              if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
            }
            const data = Buffer.concat(chunks);
            resolve(
              new k8s.ResponseContext(res.statusCode ?? 502, headers, new k8s.SelfDecodingBody(Promise.resolve(data))),
            );
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('the TokenReview call timed out')));
      req.on('error', reject);
      if (typeof body === 'string') req.write(body);
      req.end();
    });
  }
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message.slice(0, 200) : 'unknown error';
}
