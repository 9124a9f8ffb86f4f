/** What the OAuth engine keeps in the `Store`, one partition per kind of record. */
import type { ItemData } from '../../core/ports/store.ts';

/** The mount's one config: `current`. */
export const OAUTH_CONFIG_PK = 'oauth#config';
export const OAUTH_ROLE_PK = 'oauth#role';
/** Access tokens under a live lease, sealed, by the SHA-256 of the token: what revocation presents to the server. */
export const OAUTH_TOKEN_PK = 'oauth#token';
export const CONFIG_SK = 'current';

export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post'] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

/** A value sealed under a data key the `KeyProvider` wrapped. */
export interface SealedBlob {
  readonly wrapped: string;
  readonly blob: string;
}

/** What the config holds sealed: the client secret and, for the refresh-token grant, the current refresh token. */
export interface ClientCredentials {
  readonly client_secret: string;
  readonly refresh_token?: string | undefined;
}

export interface OAuthConfigRecord extends ItemData {
  /** Random per config write: names the sealed credentials (a sealed blob copied to another config fails to open). */
  id: string;
  issuer: string;
  client_id: string;
  client_auth_method: ClientAuthMethod;
  /** The authorisation server's metadata, as discovery (RFC 8414 / OpenID Connect) answered at the config's write. */
  server: Record<string, unknown>;
  sealed: SealedBlob;
  refreshTokenSet: boolean;
  updatedAt: number;
  /** When the refresh token was last rotated by a refresh. */
  refreshedAt?: number | undefined;
}

export interface OAuthTokenRecord extends ItemData {
  role: string;
  /** The access token, sealed. */
  sealed: SealedBlob;
  /** Epoch ms: the server's expiry of the token, when it named one. */
  expiresAt?: number | undefined;
}
