import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsEgressGuard } from '../../../lambdas/adapters/egress/dns-egress-guard.ts';
import { LdaptsDirectory } from '../../../lambdas/adapters/ldap/ldapts-directory.ts';
import {
  type LdapEntry,
  LdapEntrySchema,
  type LdapMountConfig,
  type LdapMountConfigInput,
} from '../../../lambdas/core/auth/ldap/ldap-config.ts';
import { entryKey, INVALID_CREDENTIALS, LdapMethod, NO_GROUPS } from '../../../lambdas/core/auth/ldap/ldap-method.ts';
import type { AuthMountRef, LoginContext } from '../../../lambdas/core/auth/methods/auth-method.ts';
import { LoginFailedError } from '../../../lambdas/core/auth/methods/login-error.ts';
import { EgressPolicy } from '../../../lambdas/core/egress/egress-policy.ts';
import { InternalError } from '../../../lambdas/core/errors.ts';
import { LOOPBACK_EGRESS } from '../../support/egress.ts';
import { GROUPS_DN, PEOPLE_DN, startSlapd, type TestSlapd, UPN_DOMAIN, USERS } from '../../support/slapd.ts';

const context: LoginContext = { sourceIp: '127.0.0.1', now: Date.now(), requestId: 'r-1' };
const method = new LdapMethod({ ldap: new LdaptsDirectory(new DnsEgressGuard(EgressPolicy.parse(LOOPBACK_EGRESS))) });

let slapd: TestSlapd;
beforeAll(async () => {
  slapd = await startSlapd();
});
afterAll(async () => {
  await slapd?.stop();
});

/** The entries of a mount, as the framework would hold them: `groups/<name>` and `users/<name>`. */
function entries(config: LdapMountConfig, spec: { groups?: Record<string, string[]>; users?: Record<string, object> }) {
  const map = new Map<string, LdapEntry>();
  for (const [name, policies] of Object.entries(spec.groups ?? {})) {
    map.set(entryKey(config, 'group', name), LdapEntrySchema.parse({ kind: 'group', policies }));
  }
  for (const [name, entry] of Object.entries(spec.users ?? {})) {
    map.set(entryKey(config, 'user', name), LdapEntrySchema.parse({ kind: 'user', ...entry }));
  }
  const read: string[] = [];
  return {
    get: async (name: string) => {
      read.push(name);
      return map.get(name);
    },
    read,
  };
}

function mount(config: Partial<LdapMountConfigInput>): AuthMountRef<LdapMountConfig> {
  return {
    path: 'ldap',
    id: 'ldap.1',
    config: method.configSchema.parse({
      url: slapd.ldapsUrl,
      certificate: slapd.caPem,
      userdn: PEOPLE_DN,
      userattr: 'uid',
      groupdn: GROUPS_DN,
      ...config,
    }),
  };
}

/** Search-then-bind with the service account over LDAPS: the usual OpenLDAP set-up. */
const searchThenBind = () => ({ binddn: slapd.serviceDn, bindpass: slapd.servicePassword });
const groups = { engineers: ['eng'], admins: ['admin'], ops: ['ops'] };

async function refusal(promise: Promise<unknown>): Promise<LoginFailedError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LoginFailedError);
  return err as LoginFailedError;
}

describe('LDAP method against a real slapd', () => {
  it('search-then-bind over LDAPS: the groups from the group search (member and memberUid) give their policies', async () => {
    const m = mount(searchThenBind());
    const outcome = await method.login(
      m,
      { username: 'alice', password: USERS.alice.password },
      entries(m.config, { groups }),
      context,
    );
    expect(outcome).toMatchObject({
      role: 'alice',
      policies: ['eng', 'ops'],
      metadata: { username: 'alice', groups: 'engineers,ops' },
      alias: `uid=alice,${PEOPLE_DN}`,
      grantedBy: ['groups/engineers', 'groups/ops'],
    });
  });

  it('direct bind as <userattr>=<username>,<userdn> without a service account, searching groups as the user', async () => {
    const m = mount({});
    const outcome = await method.login(
      m,
      { username: 'bob', password: USERS.bob.password },
      entries(m.config, { groups }),
      context,
    );
    expect(outcome.policies).toEqual(['admin']);
    expect(outcome.metadata).toEqual({ username: 'bob', groups: 'admins' });
  });

  it('memberOf: the group search pointed at the user entry reads memberOf (kept by the overlay) and takes each cn', async () => {
    const m = mount({
      ...searchThenBind(),
      groupdn: PEOPLE_DN,
      groupfilter: '(&(objectClass=inetOrgPerson)(uid={{.Username}}))',
      groupattr: 'memberOf',
    });
    const outcome = await method.login(
      m,
      { username: 'alice', password: USERS.alice.password },
      entries(m.config, { groups }),
      context,
    );
    // memberOf lists groupOfNames only: the posixGroup ops (memberUid) is not in it.
    expect(outcome.metadata.groups).toBe('engineers');
    expect(outcome.policies).toEqual(['eng']);
  });

  it('UPN style: with upndomain the user is found by userPrincipalName (OpenLDAP cannot bind as user@domain, so via the service account)', async () => {
    const m = mount({ ...searchThenBind(), upndomain: UPN_DOMAIN, userattr: 'cn' });
    const outcome = await method.login(
      m,
      { username: 'bob', password: USERS.bob.password },
      entries(m.config, { groups }),
      context,
    );
    expect(outcome.alias).toBe(`uid=bob,${PEOPLE_DN}`);
    expect(outcome.policies).toEqual(['admin']);
  });

  it('StartTLS on ldap:// with the CA; without the CA, or trusting another CA, the handshake fails', async () => {
    const m = mount({ ...searchThenBind(), url: slapd.url, starttls: true });
    const ok = await method.login(
      m,
      { username: 'bob', password: USERS.bob.password },
      entries(m.config, { groups }),
      context,
    );
    expect(ok.policies).toEqual(['admin']);
    for (const certificate of [undefined, slapd.otherCaPem]) {
      const bad = mount({ ...searchThenBind(), url: slapd.url, starttls: true, certificate });
      const err = await method
        .login(bad, { username: 'bob', password: USERS.bob.password }, entries(bad.config, { groups }), context)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InternalError);
      expect((err as Error).message).toMatch(/no LDAP server answered.*(self-signed|unable to (get|verify))/i);
    }
  });

  it('plain ldap:// only when insecure_plaintext says so; a server that is down moves on to the next URL', async () => {
    const m = mount({ ...searchThenBind(), url: `ldap://127.0.0.1:1,${slapd.url}`, insecure_plaintext: true });
    const ok = await method.login(
      m,
      { username: 'bob', password: USERS.bob.password },
      entries(m.config, { groups }),
      context,
    );
    expect(ok.policies).toEqual(['admin']);
    expect(() => mount({ url: slapd.url })).toThrow(/would send passwords in clear/);
  });

  it('LDAPS trusting another CA fails; the next URL in the list is tried', async () => {
    const bad = mount({ certificate: slapd.otherCaPem });
    await expect(
      method.login(bad, { username: 'bob', password: USERS.bob.password }, entries(bad.config, { groups }), context),
    ).rejects.toThrow(InternalError);
    // The first URL refuses connections (nothing listens on it), the second answers.
    const failover = mount({ url: `ldaps://127.0.0.1:1,${slapd.ldapsUrl}` });
    const ok = await method.login(
      failover,
      { username: 'bob', password: USERS.bob.password },
      entries(failover.config, { groups }),
      context,
    );
    expect(ok.policies).toEqual(['admin']);
  });

  it('a wrong password, an unknown user and an empty password answer alike, without a word about which', async () => {
    for (const config of [searchThenBind(), {}]) {
      const m = mount(config);
      const roles = entries(m.config, { groups });
      const wrong = await refusal(method.login(m, { username: 'alice', password: 'wrong' }, roles, context));
      const unknown = await refusal(method.login(m, { username: 'nobody', password: 'x' }, roles, context));
      const empty = await refusal(method.login(m, { username: 'alice', password: '' }, roles, context));
      for (const err of [wrong, unknown, empty]) expect(err.message).toBe(INVALID_CREDENTIALS);
      expect(empty.auditReason).toMatch(/deny_null_bind/);
      // The audit reason says what happened; never the password.
      expect(`${wrong.auditReason} ${unknown.auditReason}`).not.toContain('wrong');
    }
  });

  it('a user in none of the mount groups is refused; a user entry alone (users/<name>) admits and adds groups', async () => {
    const m = mount(searchThenBind());
    const outsider = await refusal(
      method.login(m, { username: 'carol', password: USERS.carol.password }, entries(m.config, { groups }), context),
    );
    expect(outsider.message).toBe(NO_GROUPS);
    const roles = entries(m.config, { groups, users: { carol: { policies: ['carol-own'], groups: ['admins'] } } });
    const outcome = await method.login(m, { username: 'Carol', password: USERS.carol.password }, roles, context);
    expect(outcome.policies).toEqual(['admin', 'carol-own']);
    expect(outcome.grantedBy).toEqual(['users/carol', 'groups/admins']);
  });

  it('filter injection: a username with filter syntax matches only itself, never another entry or a wildcard', async () => {
    const m = mount(searchThenBind());
    const roles = entries(m.config, { groups });
    // `*` would match every uid, and `alice)(uid=*` would widen the filter, if either reached it unescaped.
    for (const username of ['*', 'alic*', 'alice)(uid=*', '*)(|(uid=*']) {
      const err = await refusal(method.login(m, { username, password: USERS.alice.password }, roles, context));
      expect(err.message).toBe(INVALID_CREDENTIALS);
      expect(err.auditReason).toBe('no directory entry matches the username');
    }
    // The seeded user whose uid holds those characters logs in as itself.
    const star = await method.login(
      m,
      { username: USERS.star.uid, password: USERS.star.password },
      entries(m.config, { users: { [USERS.star.uid]: { policies: ['star'] } } }),
      context,
    );
    expect(star.policies).toEqual(['star']);
    expect(star.alias).toBe(slapd.userDn(USERS.star.uid));
  });

  it('a wrong service account password is a server fault (500), not the user’s', async () => {
    const m = mount({ binddn: slapd.serviceDn, bindpass: 'not-it' });
    await expect(
      method.login(m, { username: 'alice', password: USERS.alice.password }, entries(m.config, { groups }), context),
    ).rejects.toThrow(/refused the mount's service account/);
  });

  it('connects only to allow-listed targets: a directory off the egress list is never dialled', async () => {
    const closed = new LdapMethod({ ldap: new LdaptsDirectory(new DnsEgressGuard(EgressPolicy.parse('10.0.0.0/8'))) });
    const m = mount(searchThenBind());
    await expect(
      closed.login(m, { username: 'alice', password: USERS.alice.password }, entries(m.config, { groups }), context),
    ).rejects.toThrow(/outbound connection refused: ldap auth 127\.0\.0\.1:\d+/);
  });
});
