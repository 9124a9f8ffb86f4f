/**
 * The OAuth engine's config and roles. One config per mount (Vault's shape for a single upstream: `oauth/config`):
 * the authorisation server and the client credential Coffer holds; each role (`oauth/roles/<name>`) bounds what a
 * token may carry (scopes, audience, resource) and how long its lease may live.
 */
import { isIP } from 'node:net';
import * as z from 'zod';
import { DurationSchema } from '../../core/duration.ts';
import { CLIENT_AUTH_METHODS } from './oauth-records.ts';

/** RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`. */
export const Scope = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'a scope is printable ASCII without spaces, quotes or backslashes');

/**
 * An issuer is reached over https. Plain http is accepted only for a loopback issuer (a server on the same host, as in
 * development and tests): anywhere else the client secret would cross the network in clear.
 */
export const IssuerUrl = z
  .url({ protocol: /^https?$/ })
  .max(2048)
  .refine((text) => {
    const url = new URL(text);
    return url.username === '' && url.password === '' && url.search === '' && url.hash === '';
  }, 'an issuer URL carries no credentials, query or fragment')
  .refine((text) => {
    const url = new URL(text);
    return url.protocol === 'https:' || isLoopback(url.hostname);
  }, 'an issuer must use https (http only for a loopback issuer)');

export const OAuthConfigSchema = z
  .object({
    issuer: IssuerUrl.describe('The authorisation server (its metadata is discovered from it)'),
    client_id: z.string().min(1).max(512),
    client_secret: z.string().min(1).max(4096).describe('Sealed in the store; never returned or logged'),
    client_auth_method: z.enum(CLIENT_AUTH_METHODS).default('client_secret_basic'),
    refresh_token: z
      .string()
      .min(1)
      .max(8192)
      .optional()
      .describe('For roles of the refresh_token grant: sealed, and replaced by each rotation the server makes'),
  })
  .strict();
export type OAuthConfigInput = z.input<typeof OAuthConfigSchema>;

export const OAuthRoleSchema = z
  .object({
    /** How tokens are obtained: the client's own credential, or the refresh token the config holds. */
    grant: z.enum(['client_credentials', 'refresh_token']).default('client_credentials'),
    /** The scopes a caller may ask for, and the only ones a token of this role may carry. */
    allowed_scopes: z.array(Scope).max(256).default([]),
    /** The scopes asked for when the caller names none. */
    default_scopes: z.array(Scope).max(256).default([]),
    /** RFC 8707 resource indicators sent with each token request. */
    resource: z
      .array(z.url({ protocol: /^https?$/ }).max(2048))
      .max(16)
      .optional(),
    /** The `audience` parameter some servers take instead of `resource` (Auth0, Okta). */
    audience: z.string().min(1).max(2048).optional(),
    ttl: DurationSchema.default(3600).describe('Default lease TTL (never past the token expiry)'),
    max_ttl: DurationSchema.default(86_400).describe('Longest a lease may reach, renewals included'),
    max_leases: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict()
  .refine((role) => role.ttl > 0 && role.ttl <= role.max_ttl, { message: 'ttl must be positive and at most max_ttl' })
  .refine((role) => role.default_scopes.every((scope) => role.allowed_scopes.includes(scope)), {
    message: 'every default scope must be one of allowed_scopes',
  });
export type OAuthRoleInput = z.input<typeof OAuthRoleSchema>;
export type OAuthRole = z.output<typeof OAuthRoleSchema>;

/** What a caller may ask of a role. */
export const TokenRequestSchema = z
  .object({
    scopes: z.array(Scope).max(256).optional(),
  })
  .strict();
export type TokenRequest = z.infer<typeof TokenRequestSchema>;

function isLoopback(hostname: string): boolean {
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
