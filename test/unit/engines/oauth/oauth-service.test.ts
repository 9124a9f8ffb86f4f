import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsEgressGuard, guardedFetch } from '../../../../lambdas/adapters/egress/dns-egress-guard.ts';
import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import { CLAIM_PARTITION, type Claims, StoreClaims } from '../../../../lambdas/core/coordination/claims.ts';
import { EgressPolicy } from '../../../../lambdas/core/egress/egress-policy.ts';
import {
  ConflictError,
  DependencyUnavailableError,
  InvalidRequestError,
  LimitExceededError,
  NotFoundError,
  PermissionDeniedError,
  ValidationError,
} from '../../../../lambdas/core/errors.ts';
import { LeaseService } from '../../../../lambdas/core/leases/lease-service.ts';
import { OAUTH_CONFIG_PK, OAUTH_TOKEN_PK } from '../../../../lambdas/engines/oauth/oauth-records.ts';
import { OAuthService, tokenHash } from '../../../../lambdas/engines/oauth/oauth-service.ts';
import { LOOPBACK_EGRESS } from '../../../support/egress.ts';
import { FakeKeyProvider } from '../../../support/fake-key-provider.ts';
import { FAKE_OAUTH_ISSUER, fakeOAuthFetch } from '../../../support/fake-oauth-fetch.ts';
import { type OidcServer, startOidcProvider } from '../../../support/oidc-provider.ts';
import { rejectionOf as rejection } from '../../../support/rejection.ts';
import { FakeDatabaseProvider, unusedAwsProvider, unusedSshProvider } from '../../core/leases/fake-provider.ts';
import { FakeClock } from '../../core/secrets/fixtures.ts';

/** Every item of a memory store, as one JSON text: where a secret must not appear. */
function storeText(store: MemoryStore): string {
  const partitions = (store as unknown as { partitions: Map<string, Map<string, unknown>> }).partitions;
  return JSON.stringify([...partitions].map(([pk, items]) => [pk, [...items.values()]]));
}

let server: OidcServer;
beforeAll(async () => {
  server = await startOidcProvider({ accessTokenTtl: 600 });
});
afterAll(async () => {
  await server.close();
});

function fixture(options: { egress?: string; timeoutMs?: number } = {}) {
  const store = new MemoryStore();
  const clock = new FakeClock(Date.now());
  const egress = new DnsEgressGuard(EgressPolicy.parse(options.egress ?? LOOPBACK_EGRESS));
  const keyProvider = new FakeKeyProvider();
  const oauth = new OAuthService({
    store,
    clock,
    keyProvider,
    fetch: guardedFetch(egress, 'oauth provider'),
    timeoutMs: options.timeoutMs,
  });
  const leases = new LeaseService({
    store,
    clock,
    providers: { database: new FakeDatabaseProvider(), aws: unusedAwsProvider, ssh: unusedSshProvider, oauth },
    maxLeasesPerRole: 5,
  });
  const configure = (
    extra: { refresh_token?: string; client_id?: string; client_auth_method?: 'client_secret_post' } = {},
  ) =>
    oauth.putConfig({
      issuer: server.issuer,
      client_id: extra.client_id ?? server.clientId,
      client_secret: server.clientSecret,
      ...extra,
    });
  const issue = (role: string, scopes?: string[], ttlSeconds?: number) =>
    leases.issue({
      kind: 'oauth',
      role,
      principalId: 'alice',
      ttlSeconds,
      request: scopes === undefined ? {} : { scopes },
    });
  return { store, clock, keyProvider, oauth, leases, configure, issue };
}

describe('Class: OAuthService', () => {
  describe('config', () => {
    it('discovers the server and keeps the client secret sealed: never shown, never in the store in clear', async () => {
      const { oauth, store, configure } = fixture();
      const view = await configure();
      expect(view).toMatchObject({
        issuer: server.issuer,
        client_id: 'coffer',
        client_auth_method: 'client_secret_basic',
        client_secret_set: true,
        refresh_token_set: false,
        token_endpoint: `${server.issuer}/token`,
        revocation_endpoint: `${server.issuer}/token/revocation`,
      });
      expect(JSON.stringify(await oauth.config())).not.toContain(server.clientSecret);
      expect(storeText(store)).not.toContain(server.clientSecret);
      expect((await store.get(OAUTH_CONFIG_PK, 'current'))?.data).toHaveProperty('sealed');
    });

    it('refuses an issuer the egress allow-list does not name, naming the target', async () => {
      const { configure, store } = fixture({ egress: '10.0.0.0/8' });
      const err = await rejection(configure());
      expect(err).toBeInstanceOf(PermissionDeniedError);
      expect((err as Error).message).toMatch(/^outbound connection refused: oauth provider 127\.0\.0\.1:\d+: /);
      expect(await store.get(OAUTH_CONFIG_PK, 'current')).toBeUndefined();
    });

    it('gives up on a server that accepts and never answers (503), within its timeout', async () => {
      const silent = createServer(() => {});
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const { oauth } = fixture({ timeoutMs: 200 });
        const issuer = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
        const err = await rejection(oauth.putConfig({ issuer, client_id: 'c', client_secret: 's' }));
        expect(err).toBeInstanceOf(DependencyUnavailableError);
        expect((err as Error).message).toMatch(/could not be reached for the discovery/);
      } finally {
        silent.closeAllConnections();
        silent.close();
      }
    });

    it('refuses a plain-http issuer that is not on loopback', async () => {
      const { oauth } = fixture();
      const err = await rejection(
        oauth.putConfig({ issuer: 'http://login.example.com', client_id: 'c', client_secret: 's' }),
      );
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as Error).message).toMatch(/https/);
    });
  });

  describe('client-credentials tokens under leases', () => {
    it('issues a token the server knows, with the scopes asked for, and a lease that ends no later than it', async () => {
      const { oauth, issue, clock, store, configure } = fixture();
      await configure();
      await oauth.putRole('reports', { allowed_scopes: ['reports:read', 'reports:write'], ttl: '5m', max_ttl: '2h' });
      const { lease, credential } = await issue('reports', ['reports:read']);
      expect(credential).toMatchObject({ tokenType: 'bearer', scope: 'reports:read' });
      expect(await server.introspect(credential.accessToken)).toMatchObject({
        active: true,
        scope: 'reports:read',
        client_id: 'coffer',
      });
      expect(lease.leaseId).toMatch(/^oauth\/creds\/reports\//);
      expect(lease.expiresAt).toBe(clock.now() + 300_000);
      // The token lives 10 minutes: the role's two hours do not stretch the lease past it.
      expect(lease.maxExpiresAt).toBe(credential.expiresAt);
      expect(credential.expiresAt).toBe(clock.now() + 600_000);
      // Kept for its revocation, sealed.
      expect(await store.get(OAUTH_TOKEN_PK, tokenHash(credential.accessToken))).toBeDefined();
      expect(storeText(store)).not.toContain(credential.accessToken);
    });

    it('asks for the default scopes when the caller names none', async () => {
      const { oauth, issue, configure } = fixture();
      await configure();
      await oauth.putRole('reports', { allowed_scopes: ['reports:read'], default_scopes: ['reports:read'] });
      const { credential } = await issue('reports');
      expect((await server.introspect(credential.accessToken)).scope).toBe('reports:read');
    });

    it('refuses scopes outside the role before calling the server, and holds no lease for the refusal', async () => {
      const { oauth, issue, configure, leases } = fixture();
      await configure();
      await oauth.putRole('reports', { allowed_scopes: ['reports:read'], max_leases: 1 });
      const before = server.grants.length;
      const err = await rejection(issue('reports', ['reports:read', 'admin']));
      expect(err).toBeInstanceOf(PermissionDeniedError);
      expect((err as Error).message).toBe('role reports does not allow the scope(s) admin');
      expect(server.grants.length).toBe(before);
      // The quota of one is free: the refused request left nothing behind.
      await issue('reports', ['reports:read']);
      await expect(issue('reports', ['reports:read'])).rejects.toBeInstanceOf(LimitExceededError);
      expect((await leases.list({ prefix: 'oauth/' })).leases).toHaveLength(1);
    });

    it('authenticates with client_secret_post when configured so', async () => {
      const { oauth, issue, configure } = fixture();
      await configure({ client_id: server.postClientId, client_auth_method: 'client_secret_post' });
      await oauth.putRole('reports', { allowed_scopes: ['reports:read'] });
      const { credential } = await issue('reports', ['reports:read']);
      expect((await server.introspect(credential.accessToken)).client_id).toBe('coffer-post');
    });

    it("names the server's refusal (a wrong client secret) without quoting the secret", async () => {
      const { oauth, issue } = fixture();
      await oauth.putConfig({ issuer: server.issuer, client_id: 'coffer', client_secret: 'not-the-secret-1234' });
      await oauth.putRole('reports', { allowed_scopes: ['reports:read'] });
      const err = await rejection(issue('reports', ['reports:read']));
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect((err as Error).message).toMatch(/refused the token request: invalid_client/);
      expect((err as Error).message).not.toContain('not-the-secret-1234');
    });

    it('needs a config to issue', async () => {
      const { oauth, issue } = fixture();
      await oauth.putRole('reports', { allowed_scopes: ['reports:read'] });
      await expect(issue('reports', ['reports:read'])).rejects.toBeInstanceOf(NotFoundError);
    });
  });

  describe('revoke and renew', () => {
    it('revokes the token at the server when its lease is revoked, and forgets it', async () => {
      const { oauth, issue, leases, store, configure } = fixture();
      await configure();
      await oauth.putRole('reports', { allowed_scopes: ['reports:read'] });
      const { lease, credential } = await issue('reports', ['reports:read']);
      expect((await leases.revoke(lease.leaseId)).revoked).toBe(true);
      expect((await server.introspect(credential.accessToken)).active).toBe(false);
      expect(await store.get(OAUTH_TOKEN_PK, tokenHash(credential.accessToken))).toBeUndefined();
      // Idempotent: nothing left to revoke.
      await oauth.revoke({ role: 'reports', tokenHash: tokenHash(credential.accessToken) });
    });

    it('revokes the token at the server when the sweeper ends its expired lease', async () => {
      const { oauth, issue, leases, clock, configure } = fixture();
      await configure();
      await oauth.putRole('reports', { allowed_scopes: ['reports:read'], ttl: '1m' });
      const { credential } = await issue('reports', ['reports:read']);
      clock.advance(61_000);
      expect((await leases.sweep()).revoked).toBe(1);
      expect((await server.introspect(credential.accessToken)).active).toBe(false);
    });

    it("renews a lease up to the token's own expiry and no further", async () => {
      const { oauth, issue, leases, clock, configure } = fixture();
      await configure();
      await oauth.putRole('reports', { allowed_scopes: ['reports:read'], ttl: '1m', max_ttl: '24h' });
      const { lease, credential } = await issue('reports', ['reports:read']);
      clock.advance(30_000);
      const short = await leases.renew(lease.leaseId, 120);
      expect(short).toMatchObject({ expiresAt: clock.now() + 120_000, capped: false });
      const long = await leases.renew(lease.leaseId, 3600);
      expect(long).toMatchObject({ expiresAt: credential.expiresAt, capped: true });
      // Still the same token, still live at the server.
      expect((await server.introspect(credential.accessToken)).active).toBe(true);
    });
  });

  describe('root-key rotation', () => {
    it('re-wraps the sealed credential and live tokens, which still work once the old root key is retired', async () => {
      const { oauth, issue, leases, keyProvider, configure } = fixture();
      await configure();
      await oauth.putRole('reports', { allowed_scopes: ['reports:read'] });
      const { lease, credential } = await issue('reports', ['reports:read']);
      const previous = keyProvider.describe().keyId;
      keyProvider.rotate();
      expect((await oauth.rewrapAll()).rewrapped).toBe(2);
      expect((await oauth.rewrapAll()).rewrapped).toBe(0);
      keyProvider.retire(previous);
      await issue('reports', ['reports:read']);
      expect((await leases.revoke(lease.leaseId)).revoked).toBe(true);
      expect((await server.introspect(credential.accessToken)).active).toBe(false);
    });
  });

  describe('refresh-token grant', () => {
    it('rotates the held refresh token on every use, keeping the new one before answering', async () => {
      const { oauth, issue, store, configure } = fixture();
      const first = await server.issueRefreshToken();
      await configure({ refresh_token: first });
      await oauth.putRole('offline', { grant: 'refresh_token', allowed_scopes: ['offline_access'] });
      const one = await issue('offline');
      const two = await issue('offline');
      const three = await issue('offline');
      for (const { credential } of [one, two, three]) {
        expect(await server.introspect(credential.accessToken)).toMatchObject({
          active: true,
          scope: 'offline_access',
        });
      }
      // The first refresh token was spent at the first use: the server knows it no more.
      expect((await server.introspect(first)).active).toBe(false);
      expect((await oauth.config()).refreshed_at).toBeDefined();
      expect(storeText(store)).not.toContain(first);
    });

    it('serialises refreshes on a node: requests at once each get a token, the grant survives', async () => {
      const { oauth, issue, configure } = fixture();
      await configure({ refresh_token: await server.issueRefreshToken() });
      await oauth.putRole('offline', { grant: 'refresh_token', allowed_scopes: ['offline_access'] });
      const issued = await Promise.all([issue('offline'), issue('offline'), issue('offline')]);
      for (const { credential } of issued) {
        expect((await server.introspect(credential.accessToken)).active).toBe(true);
      }
    });

    it('tells the operator when a refresh_token role has no refresh token to use', async () => {
      const { oauth, issue, configure } = fixture();
      await configure();
      await oauth.putRole('offline', { grant: 'refresh_token', allowed_scopes: ['offline_access'] });
      const err = await rejection(issue('offline'));
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect((err as Error).message).toMatch(/holds no refresh token/);
    });
  });

  describe('against a server that misbehaves (a fake one)', () => {
    /** One node; two built over the same store and envelope key are two nodes of one deployment. */
    function fakeFixture(
      fetch: ReturnType<typeof fakeOAuthFetch>,
      store = new MemoryStore(),
      keyProvider = new FakeKeyProvider(),
      claims?: (clock: FakeClock) => Claims,
    ) {
      const clock = new FakeClock(Date.now());
      const oauth = new OAuthService({ store, clock, keyProvider, fetch, claims: claims?.(clock) });
      const leases = new LeaseService({
        store,
        clock,
        providers: { database: new FakeDatabaseProvider(), aws: unusedAwsProvider, ssh: unusedSshProvider, oauth },
      });
      return { store, oauth, leases };
    }

    it('revokes and refuses a token the server granted scopes beyond the role for', async () => {
      const fetch = fakeOAuthFetch({ grant: (asked) => `${asked ?? ''} admin`.trim() });
      const { oauth, leases, store } = fakeFixture(fetch);
      await oauth.putConfig({ issuer: FAKE_OAUTH_ISSUER, client_id: 'coffer', client_secret: 's3cret-value' });
      await oauth.putRole('reports', { allowed_scopes: ['reports:read'] });
      const err = await rejection(
        leases.issue({ kind: 'oauth', role: 'reports', principalId: 'alice', request: { scopes: ['reports:read'] } }),
      );
      expect(err).toBeInstanceOf(PermissionDeniedError);
      expect((err as Error).message).toMatch(
        /granted scope\(s\) outside role reports \(admin\); the token was revoked/,
      );
      expect(fetch.revoked.size).toBe(1);
      expect((await store.query(OAUTH_TOKEN_PK)).items).toHaveLength(0);
      expect((await leases.list({ prefix: 'oauth/' })).leases).toHaveLength(0);
    });

    it('lets one of two nodes refreshing at once keep its token; the other gives its token back (409)', async () => {
      let arrived = 0;
      let release: () => void = () => {};
      const both = new Promise<void>((resolve) => (release = resolve));
      const fetch = fakeOAuthFetch({
        beforeToken: async () => {
          if (++arrived === 2) release();
          await both;
        },
      });
      const store = new MemoryStore();
      const keyProvider = new FakeKeyProvider();
      const a = fakeFixture(fetch, store, keyProvider);
      const b = fakeFixture(fetch, store, keyProvider);
      await a.oauth.putConfig({
        issuer: FAKE_OAUTH_ISSUER,
        client_id: 'coffer',
        client_secret: 's3cret-value',
        refresh_token: 'first-refresh-token',
      });
      await a.oauth.putRole('offline', { grant: 'refresh_token' });
      const outcomes = await Promise.allSettled([
        a.leases.issue({ kind: 'oauth', role: 'offline', principalId: 'alice' }),
        b.leases.issue({ kind: 'oauth', role: 'offline', principalId: 'bob' }),
      ]);
      const refused = outcomes.filter((o) => o.status === 'rejected');
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      expect(refused).toHaveLength(1);
      expect((refused[0] as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
      expect(fetch.revoked.size).toBe(1);
      expect((await a.leases.list({ prefix: 'oauth/' })).leases).toHaveLength(1);
    });

    // Refreshes across nodes sharing a store.
    /** Two nodes over one store refreshing at once, against a server that refuses a refresh token used twice. */
    async function twoNodesRefresh(claims: ((store: MemoryStore, clock: FakeClock) => Claims) | undefined) {
      const seen = { inFlight: 0, mostInFlight: 0 };
      const fetch = fakeOAuthFetch({
        refuseReuse: true,
        beforeToken: async () => {
          seen.mostInFlight = Math.max(seen.mostInFlight, ++seen.inFlight);
          // Long enough for the other node to reach the server (or ask for the claim) while this one is there.
          await new Promise((resolve) => setTimeout(resolve, 50));
          seen.inFlight--;
        },
      });
      const store = new MemoryStore();
      const keyProvider = new FakeKeyProvider();
      const node = () => fakeFixture(fetch, store, keyProvider, claims && ((clock) => claims(store, clock)));
      const [a, b] = [node(), node()];
      await a.oauth.putConfig({
        issuer: FAKE_OAUTH_ISSUER,
        client_id: 'coffer',
        client_secret: 's3cret-value',
        refresh_token: 'first-refresh-token',
      });
      await a.oauth.putRole('offline', { grant: 'refresh_token' });
      const outcomes = await Promise.allSettled([
        a.leases.issue({ kind: 'oauth', role: 'offline', principalId: 'alice' }),
        b.leases.issue({ kind: 'oauth', role: 'offline', principalId: 'bob' }),
      ]);
      return { outcomes, fetch, store, mostInFlight: seen.mostInFlight };
    }

    it('without a shared claim, the second node presents the spent refresh token and is refused', async () => {
      const { outcomes, mostInFlight } = await twoNodesRefresh(undefined);
      expect(mostInFlight).toBe(2);
      expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(1);
    });

    it('spends each refresh token once when two nodes refresh at once: the second waits for the rotated one', async () => {
      const { outcomes, fetch, store, mostInFlight } = await twoNodesRefresh(
        (store, clock) => new StoreClaims({ store, clock }),
      );
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled']);
      expect(mostInFlight).toBe(1);
      expect(fetch.spentRefreshTokens).toHaveLength(2);
      expect(fetch.spentRefreshTokens[0]).toBe('first-refresh-token');
      expect(fetch.revoked.size).toBe(0);
      expect((await store.query(CLAIM_PARTITION)).items).toEqual([]);
    });
  });

  describe('roles', () => {
    it('refuses default scopes the role does not allow', async () => {
      const { oauth } = fixture();
      await expect(
        oauth.putRole('bad', { allowed_scopes: ['reports:read'], default_scopes: ['admin'] }),
      ).rejects.toThrow(/every default scope must be one of allowed_scopes/);
    });

    it('lists, reads and deletes roles', async () => {
      const { oauth } = fixture();
      await oauth.putRole('b', { allowed_scopes: ['x'] });
      await oauth.putRole('a', { allowed_scopes: ['y'] });
      expect(await oauth.listRoles()).toEqual(['a', 'b']);
      expect((await oauth.getRole('a')).grant).toBe('client_credentials');
      await oauth.deleteRole('a');
      await expect(oauth.getRole('a')).rejects.toBeInstanceOf(NotFoundError);
    });
  });
});
