import * as z from 'zod';
import { Instant } from './common.ts';

/** The OAuth engine speaks Vault's field names (snake case) in its settings, as the SSH engine does. */
export const OAuthConfig = z.object({
  issuer: z.string(),
  client_id: z.string(),
  client_auth_method: z.enum(['client_secret_basic', 'client_secret_post']),
  client_secret_set: z.literal(true).describe('The client secret is sealed and never returned'),
  refresh_token_set: z.boolean().describe('Whether a refresh token is held (sealed; rotated on every use)'),
  token_endpoint: z.string(),
  revocation_endpoint: z.string().optional().describe('Absent: tokens end at their expiry only'),
  updated_at: Instant,
  refreshed_at: Instant.optional().describe('When the held refresh token was last rotated'),
});

export const OAuthRole = z.object({
  name: z.string(),
  grant: z.enum(['client_credentials', 'refresh_token']),
  allowed_scopes: z.array(z.string()),
  default_scopes: z.array(z.string()),
  resource: z.array(z.string()).optional(),
  audience: z.string().optional(),
  ttl: z.number(),
  max_ttl: z.number(),
  max_leases: z.number().optional(),
});

export const OAuthRoleList = z.object({ roles: z.array(z.string()) });

/** An access token under its lease: revoking the lease revokes the token at the server. */
export const OAuthToken = z.object({
  leaseId: z.string(),
  kind: z.literal('oauth'),
  state: z.string(),
  issuedAt: Instant,
  expiresAt: Instant,
  maxExpiresAt: Instant.describe("The token's own expiry, or the role's max_ttl if sooner: no renewal goes past it"),
  attempts: z.number(),
  leaseDuration: z.number(),
  renewable: z.boolean(),
  access_token: z.string(),
  token_type: z.string(),
  scope: z.string().describe('The scopes the server granted, space-separated'),
  token_expires_at: Instant.optional().describe("The server's expiry of the token (expires_in)"),
});
