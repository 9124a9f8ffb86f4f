/**
 * The OAuth 2.0 exchanges, through oauth4webapi (discovery, the client-credentials and refresh-token grants, RFC 7009
 * revocation) over the egress-guarded fetch the composition hands in. Loaded at the engine's first call, not at start.
 * Every failure leaves here as a typed Coffer error whose message quotes no credential.
 */
import {
  type AuthorizationServer,
  allowInsecureRequests,
  type Client,
  type ClientAuth,
  ClientSecretBasic,
  ClientSecretPost,
  clientCredentialsGrantRequest,
  customFetch,
  discoveryRequest,
  processClientCredentialsResponse,
  processDiscoveryResponse,
  processRefreshTokenResponse,
  processRevocationResponse,
  ResponseBodyError,
  refreshTokenGrantRequest,
  revocationRequest,
  WWWAuthenticateChallengeError,
} from 'oauth4webapi';
import { DependencyUnavailableError, InvalidRequestError, isCofferError } from '../../core/errors.ts';
import type { ClientAuthMethod } from './oauth-records.ts';

/** The client as the engine holds it, its secrets opened for one exchange. */
export interface OAuthClient {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly authMethod: ClientAuthMethod;
}

/** What one token request asks for beyond the grant. */
export interface TokenParameters {
  readonly scopes: readonly string[];
  readonly resource?: readonly string[] | undefined;
  readonly audience?: string | undefined;
}

export interface TokenAnswer {
  readonly accessToken: string;
  readonly tokenType: string;
  readonly expiresIn?: number | undefined;
  /** The scopes granted, when the server said (RFC 6749 §5.1: absent means those asked for). */
  readonly scope?: string | undefined;
  readonly refreshToken?: string | undefined;
}

/** How the engine reaches the server: the egress-guarded fetch, and how long one exchange may take. */
export interface Transport {
  readonly fetch: typeof fetch;
  /** A server that accepts and never answers must not hold a request (or the refresh lock) for ever. */
  readonly timeoutMs: number;
}

function options(transport: Transport, issuer: string) {
  return {
    [customFetch]: transport.fetch,
    // The config schema admits plain http for a loopback issuer only.
    [allowInsecureRequests]: new URL(issuer).protocol === 'http:',
    signal: () => AbortSignal.timeout(transport.timeoutMs),
  };
}

/**
 * The server's metadata: OpenID Connect discovery, else RFC 8414 (`/.well-known/oauth-authorization-server`).
 * @throws InvalidRequestError when the issuer answers no usable metadata
 */
export async function discover(issuer: string, transport: Transport): Promise<AuthorizationServer> {
  const url = new URL(issuer);
  let first: unknown;
  for (const algorithm of ['oidc', 'oauth2'] as const) {
    try {
      const response = await discoveryRequest(url, { ...options(transport, issuer), algorithm });
      const server = await processDiscoveryResponse(url, response);
      if (typeof server.token_endpoint !== 'string') {
        throw new InvalidRequestError(`the authorisation server ${issuer} names no token_endpoint`);
      }
      return server;
    } catch (err) {
      // Refused by the egress policy or unreachable: the second well-known path would fare no better.
      if (isCofferError(err) || !(err instanceof Error) || isNetworkError(err)) throw refusal(err, 'discovery', issuer);
      first ??= err;
    }
  }
  throw refusal(first, 'discovery', issuer);
}

export async function clientCredentials(
  server: AuthorizationServer,
  client: OAuthClient,
  parameters: TokenParameters,
  transport: Transport,
): Promise<TokenAnswer> {
  const params = tokenParameters(parameters);
  try {
    const response = await clientCredentialsGrantRequest(
      server,
      { client_id: client.clientId },
      auth(client),
      params,
      options(transport, server.issuer),
    );
    return answerOf(await processClientCredentialsResponse(server, { client_id: client.clientId }, response));
  } catch (err) {
    throw refusal(err, 'token request', server.issuer, [client.clientSecret]);
  }
}

export async function refresh(
  server: AuthorizationServer,
  client: OAuthClient,
  refreshToken: string,
  parameters: TokenParameters,
  transport: Transport,
): Promise<TokenAnswer> {
  const oauthClient: Client = { client_id: client.clientId };
  try {
    const response = await refreshTokenGrantRequest(server, oauthClient, auth(client), refreshToken, {
      ...options(transport, server.issuer),
      additionalParameters: tokenParameters(parameters),
    });
    return answerOf(await processRefreshTokenResponse(server, oauthClient, response));
  } catch (err) {
    throw refusal(err, 'refresh', server.issuer, [client.clientSecret, refreshToken]);
  }
}

/** RFC 7009: the server forgets the token. A token it no longer knows is answered 200 too. */
export async function revoke(
  server: AuthorizationServer,
  client: OAuthClient,
  token: string,
  transport: Transport,
): Promise<void> {
  try {
    const response = await revocationRequest(server, { client_id: client.clientId }, auth(client), token, {
      ...options(transport, server.issuer),
      additionalParameters: { token_type_hint: 'access_token' },
    });
    await processRevocationResponse(response);
  } catch (err) {
    throw refusal(err, 'revocation', server.issuer, [client.clientSecret, token]);
  }
}

function auth(client: OAuthClient): ClientAuth {
  return client.authMethod === 'client_secret_post'
    ? ClientSecretPost(client.clientSecret)
    : ClientSecretBasic(client.clientSecret);
}

function tokenParameters(parameters: TokenParameters): URLSearchParams {
  const params = new URLSearchParams();
  if (parameters.scopes.length > 0) params.set('scope', parameters.scopes.join(' '));
  for (const resource of parameters.resource ?? []) params.append('resource', resource);
  if (parameters.audience !== undefined) params.set('audience', parameters.audience);
  return params;
}

function answerOf(response: {
  access_token: string;
  token_type: string;
  expires_in?: number | undefined;
  scope?: string | undefined;
  refresh_token?: string | undefined;
}): TokenAnswer {
  return {
    accessToken: response.access_token,
    tokenType: response.token_type,
    expiresIn: response.expires_in,
    scope: response.scope,
    refreshToken: response.refresh_token,
  };
}

/** A socket's failure (`ECONNREFUSED`, `ETIMEDOUT`, an abort), not oauth4webapi's `OAUTH_*`/`ERR_*` checks. */
function isNetworkError(err: Error): boolean {
  if (err.name === 'AbortError' || err.name === 'TimeoutError') return true;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^E[A-Z]/.test(code) && !code.startsWith('ERR_');
}

/**
 * A failed exchange as a typed error: the egress guard's refusal as it is (403, naming the target); the server's
 * OAuth error (`invalid_scope`, `invalid_client`) as a 400 with its code and description; a 5xx or an unreachable
 * server as 503. The server's words are quoted, so any credential of the exchange is blanked out of them first.
 */
function refusal(err: unknown, what: string, issuer: string, secrets: readonly string[] = []): Error {
  if (isCofferError(err)) return err;
  const host = safeHost(issuer);
  // A 401 with a challenge (a wrong client secret): the OAuth error is in the challenge's parameters.
  const challenged =
    err instanceof WWWAuthenticateChallengeError
      ? { status: err.status, ...err.cause.find((c) => c.parameters.error !== undefined)?.parameters }
      : undefined;
  const answered =
    err instanceof ResponseBodyError
      ? { status: err.status, error: err.error, error_description: err.error_description }
      : challenged;
  if (answered !== undefined) {
    const error = typeof answered.error === 'string' ? answered.error : `HTTP ${answered.status}`;
    if (answered.status >= 500) {
      return new DependencyUnavailableError(
        `the authorisation server at ${host} answered ${answered.status} to the ${what}; retry later`,
        { cause: err, details: { dependency: 'oauth' } },
      );
    }
    const description =
      typeof answered.error_description === 'string'
        ? `: ${redact(answered.error_description, secrets).slice(0, 300)}`
        : '';
    const code = redact(error, secrets).slice(0, 100);
    return new InvalidRequestError(`the authorisation server at ${host} refused the ${what}: ${code}${description}`, {
      details: { oauthError: code },
    });
  }
  if (err instanceof Error && !isNetworkError(err)) {
    return new InvalidRequestError(
      `the authorisation server at ${host} gave an answer to the ${what} that is not valid OAuth: ${redact(err.message, secrets).slice(0, 300)}`,
    );
  }
  const reason = err instanceof Error ? ((err as { code?: unknown }).code ?? err.name) : 'unknown error';
  return new DependencyUnavailableError(
    `the authorisation server at ${host} could not be reached for the ${what} (${String(reason)}); retry later`,
    { cause: err, details: { dependency: 'oauth' } },
  );
}

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join('[redacted]');
  return out;
}

function safeHost(issuer: string): string {
  try {
    return new URL(issuer).host;
  } catch {
    return 'the configured issuer';
  }
}
