import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/** Scopes the server knows; `admin` is one no test role allows. */
export const OIDC_SCOPES = ['openid', 'offline_access', 'reports:read', 'reports:write', 'admin'] as const;

export interface OidcServer {
  /** `http://127.0.0.1:<port>`: the issuer, on a free loopback port. */
  readonly issuer: string;
  readonly port: number;
  /** The client Coffer holds (client_secret_basic). */
  readonly clientId: string;
  readonly clientSecret: string;
  /** The same client's sibling that authenticates with client_secret_post. */
  readonly postClientId: string;
  /** A refresh token for the client, from a grant recorded here (the login a browser would do, skipped). */
  issueRefreshToken(scope?: string): Promise<string>;
  /** RFC 7662 introspection, as a resource server would ask: is this token live? */
  introspect(token: string): Promise<{ active: boolean; scope?: string; client_id?: string }>;
  /** Token requests the server answered, by grant type (how many refreshes happened). */
  readonly grants: string[];
  close(): Promise<void>;
}

/**
 * A real OAuth 2.0 / OpenID Connect server (`oidc-provider`) for the OAuth engine's tests, on a free loopback port:
 * client-credentials, refresh tokens rotated on every use, introspection and revocation (RFC 7009) enabled.
 *
 * @param options.accessTokenTtl seconds an access token lives (expires_in) @default 600
 */
export async function startOidcProvider(options: { accessTokenTtl?: number } = {}): Promise<OidcServer> {
  const accessTokenTtl = options.accessTokenTtl ?? 600;
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => handler!(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const clientSecret = randomBytes(24).toString('base64url');
  const client = {
    client_secret: clientSecret,
    grant_types: ['client_credentials', 'refresh_token', 'authorization_code'],
    redirect_uris: ['https://client.test/callback'],
    response_types: ['code'],
    scope: OIDC_SCOPES.join(' '),
  };
  const provider = new Provider(issuer, {
    clients: [
      { ...client, client_id: 'coffer', token_endpoint_auth_method: 'client_secret_basic' },
      { ...client, client_id: 'coffer-post', token_endpoint_auth_method: 'client_secret_post' },
    ],
    scopes: [...OIDC_SCOPES],
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      devInteractions: { enabled: false },
    },
    ttl: {
      AccessToken: accessTokenTtl,
      ClientCredentials: accessTokenTtl,
      RefreshToken: 86_400,
      Grant: 86_400,
      Session: 86_400,
    },
    rotateRefreshToken: true,
    findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
  });
  const grants: string[] = [];
  provider.on('grant.success', (ctx) => {
    const body = (ctx as { oidc?: { params?: { grant_type?: string } } }).oidc?.params;
    grants.push(String(body?.grant_type ?? 'unknown'));
  });
  handler = provider.callback();

  const basic = `Basic ${Buffer.from(`coffer:${clientSecret}`).toString('base64')}`;
  return {
    issuer,
    port,
    clientId: 'coffer',
    clientSecret,
    postClientId: 'coffer-post',
    grants,
    async issueRefreshToken(scope = 'offline_access') {
      const found = await provider.Client.find('coffer');
      const grant = new provider.Grant({ accountId: 'alice', clientId: 'coffer' });
      grant.addOIDCScope(scope);
      const grantId = await grant.save();
      const token = new provider.RefreshToken({
        client: found,
        accountId: 'alice',
        grantId,
        scope,
        gty: 'authorization_code',
        authTime: Math.floor(Date.now() / 1000),
      });
      return token.save();
    },
    async introspect(token) {
      const response = await fetch(`${issuer}/token/introspection`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
      });
      if (!response.ok) throw new Error(`introspection answered ${response.status}`);
      return (await response.json()) as { active: boolean; scope?: string; client_id?: string };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err === undefined ? resolve() : reject(err)));
      }),
  };
}
