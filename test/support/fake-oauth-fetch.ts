import { randomBytes } from 'node:crypto';

/**
 * A `fetch` answering as a minimal OAuth 2.0 server at `https://oauth.test` (discovery, client-credentials and
 * refresh grants, revocation), for tests about who may call the engine's routes (the authorisation harness), not about
 * the protocol: those run against a real `oidc-provider` (`test/support/oidc-provider.ts`).
 */
export const FAKE_OAUTH_ISSUER = 'https://oauth.test';

export function fakeOAuthFetch(
  options: {
    /** The scope the server grants for the one asked for. @default the one asked for */
    readonly grant?: (asked: string | null) => string | null;
    /** Awaited before each token answer (to hold two requests in flight at once). */
    readonly beforeToken?: () => Promise<void>;
    /** Refuse a refresh token presented a second time (`invalid_grant`), as a server with reuse detection does. */
    readonly refuseReuse?: boolean;
  } = {},
): typeof fetch & { readonly revoked: Set<string>; readonly spentRefreshTokens: string[] } {
  const revoked = new Set<string>();
  /** Refresh tokens presented, in order. */
  const spentRefreshTokens: string[] = [];
  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const handler = async (input: Parameters<typeof fetch>[0], init: RequestInit = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.pathname === '/.well-known/openid-configuration') {
      return json({
        issuer: FAKE_OAUTH_ISSUER,
        token_endpoint: `${FAKE_OAUTH_ISSUER}/token`,
        revocation_endpoint: `${FAKE_OAUTH_ISSUER}/token/revocation`,
      });
    }
    const form = new URLSearchParams(String(init.body ?? ''));
    if (url.pathname === '/token') {
      await options.beforeToken?.();
      const presented = form.get('refresh_token');
      if (form.get('grant_type') === 'refresh_token' && presented !== null) {
        if (options.refuseReuse === true && spentRefreshTokens.includes(presented)) {
          return json({ error: 'invalid_grant' }, 400);
        }
        spentRefreshTokens.push(presented);
      }
      const scope = options.grant === undefined ? form.get('scope') : options.grant(form.get('scope'));
      return json({
        access_token: randomBytes(16).toString('hex'),
        token_type: 'Bearer',
        expires_in: 3600,
        ...(scope !== null && { scope }),
        ...(form.get('grant_type') === 'refresh_token' && { refresh_token: randomBytes(16).toString('hex') }),
      });
    }
    if (url.pathname === '/token/revocation') {
      revoked.add(form.get('token') ?? '');
      return new Response(null, { status: 200 });
    }
    return json({ error: 'not_found' }, 404);
  };
  return Object.assign(handler as typeof fetch, { revoked, spentRefreshTokens });
}
