/**
 * How a `CofferClient` proves who it is: a Coffer token, an AWS Signature Version 4 over the request (a Coffer
 * access key locally, IAM credentials behind API Gateway), or a token got by logging in with an auth method.
 */
import type { LoginOptions } from './login-options.ts';

/** Static AWS credentials, structurally the AWS SDK's `AwsCredentialIdentity`. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
  readonly expiration?: Date | undefined;
}

/** A function returning credentials, such as the providers of `@aws-sdk/credential-providers` (they cache). */
export type AwsCredentialsProvider = () => Promise<AwsCredentials>;

export interface SigV4AuthOptions {
  /** @default fromNodeProviderChain() of `@aws-sdk/credential-providers` (env, SSO, profile, web identity, IMDS...) */
  readonly credentials?: AwsCredentials | AwsCredentialsProvider | undefined;
  /**
   * The signing name of the credential scope: `coffer` (or `secretsmanager`) for a local server, `execute-api`
   * behind API Gateway's IAM authorisation. @default 'coffer'
   */
  readonly service?: string | undefined;
  /** @default AWS_REGION, then AWS_DEFAULT_REGION, then 'us-east-1' */
  readonly region?: string | undefined;
}

/**
 * A Coffer token; SigV4; or a login with an auth method, whose token the client keeps in memory and replaces before it
 * expires (and once when the server answers 401).
 */
export type CofferAuth =
  | { readonly token: string }
  | { readonly sigv4: SigV4AuthOptions }
  | { readonly login: LoginOptions };

/** The request as the client is about to send it; the signer returns the headers to send. */
export interface OutgoingRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Record<string, string>;
  readonly body?: string | undefined;
}

export type RequestAuthoriser = (request: OutgoingRequest) => Promise<Record<string, string>>;

/** The header a Coffer token travels in. */
export const COFFER_TOKEN_HEADER = 'x-coffer-token';

/** The region a request acts in, for requests not signed for one (`CofferClientOptions.region`). */
export const COFFER_REGION_HEADER = 'x-coffer-region';

export function tokenAuthoriser(token: string): RequestAuthoriser {
  return async (request) => ({ ...request.headers, [COFFER_TOKEN_HEADER]: token });
}

/**
 * Signs each attempt afresh (X-Amz-Date is part of the signature, and the server allows 15 minutes of skew). The
 * signer and the default credential chain are loaded on first use, so token users never load them.
 * @example const authorise = sigv4Authoriser({ service: 'execute-api', region: 'eu-west-1' });
 */
export function sigv4Authoriser(options: SigV4AuthOptions, env: NodeJS.ProcessEnv = process.env): RequestAuthoriser {
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const service = options.service ?? 'coffer';
  let signer: Promise<{ sign: (request: OutgoingRequest) => Promise<Record<string, string>> }> | undefined;
  const load = async () => {
    const [{ SignatureV4 }, { HttpRequest }, { Sha256 }] = await Promise.all([
      import('@smithy/signature-v4'),
      import('@smithy/protocol-http'),
      import('@aws-crypto/sha256-js'),
    ]);
    const credentials = options.credentials ?? (await import('@aws-sdk/credential-providers')).fromNodeProviderChain();
    // Same settings as the server's verifier (`lambdas/core/auth/sigv4/sigv4-verifier.ts`): escaped path, no
    // x-amz-content-sha256 (the AWS SDKs add it for S3 only).
    const v4 = new SignatureV4({
      credentials,
      region,
      service,
      sha256: Sha256,
      uriEscapePath: true,
      applyChecksum: false,
    });
    return {
      async sign(request: OutgoingRequest): Promise<Record<string, string>> {
        const { url } = request;
        const query: Record<string, string> = {};
        for (const [name, value] of url.searchParams) query[name] = value;
        const unsigned = new HttpRequest({
          method: request.method,
          protocol: url.protocol,
          hostname: url.hostname,
          ...(url.port === '' ? {} : { port: Number(url.port) }),
          path: url.pathname,
          query,
          headers: { ...request.headers, host: url.host },
          ...(request.body === undefined ? {} : { body: request.body }),
        });
        const signed = await v4.sign(unsigned);
        return signed.headers as Record<string, string>;
      },
    };
  };
  return async (request) => {
    signer ??= load().catch((err: unknown) => {
      signer = undefined;
      throw err;
    });
    return (await signer).sign(request);
  };
}
