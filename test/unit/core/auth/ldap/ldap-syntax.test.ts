import { FilterParser } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { LdapMountConfigSchema } from '../../../../../lambdas/core/auth/ldap/ldap-config.ts';
import { LdapMethod } from '../../../../../lambdas/core/auth/ldap/ldap-method.ts';
import {
  escapeDnValue,
  escapeFilterValue,
  filterTemplateProblem,
  groupNameOf,
  renderFilter,
} from '../../../../../lambdas/core/auth/ldap/ldap-syntax.ts';
import type { LoginContext } from '../../../../../lambdas/core/auth/methods/auth-method.ts';
import { fakeLdapDirectory } from '../../../../support/fake-ldap-directory.ts';

describe('LDAP syntax', () => {
  it('escapes every filter metacharacter, so a username can never change a filter’s structure', () => {
    expect(escapeFilterValue('*)(uid=*')).toBe('\\2a\\29\\28uid=\\2a');
    expect(escapeFilterValue('a\\b\0c')).toBe('a\\5cb\\00c');
    expect(escapeFilterValue('Jürgen')).toBe('Jürgen');
    const filter = renderFilter('(&(objectClass=person)({{.UserAttr}}={{.Username}}))', {
      UserAttr: 'uid',
      Username: '*)(|(uid=*',
    });
    // Parsed as a client sends it: still one equality test on uid, whose value is the literal input.
    const parsed = FilterParser.parseString(filter);
    expect(parsed.toString()).toBe('(&(objectClass=person)(uid=\\2a\\29\\28|\\28uid=\\2a))');
  });

  it('escapes DN values (RFC 4514), leading and trailing specials included', () => {
    expect(escapeDnValue('Smith, John')).toBe('Smith\\, John');
    expect(escapeDnValue('#admin ')).toBe('\\#admin\\ ');
    expect(escapeDnValue('a+b=c;d<e>"f\\')).toBe('a\\+b\\=c\\;d\\<e\\>\\"f\\\\');
  });

  it('checks templates: known placeholders only, wrapped and balanced', () => {
    expect(filterTemplateProblem('({{.UserAttr}}={{.Username}})', ['UserAttr', 'Username'])).toBeUndefined();
    expect(filterTemplateProblem('(uid={{.UserName}})', ['Username'])).toMatch(
      /unknown placeholder \{\{\.UserName\}\}/,
    );
    expect(filterTemplateProblem('(member={{.UserDN}})', ['Username'])).toMatch(/unknown placeholder/);
    expect(filterTemplateProblem('uid={{.Username}}', ['Username'])).toMatch(/parentheses/);
    expect(filterTemplateProblem('((uid={{.Username}})', ['Username'])).toMatch(/unbalanced/);
    expect(filterTemplateProblem('(uid={{Username}})', ['Username'])).toMatch(/malformed/);
  });

  it('reads group names from cn RDNs of DNs (memberOf values), and takes plain names as they are', () => {
    expect(groupNameOf('cn=engineers,ou=groups,dc=example,dc=org')).toBe('engineers');
    expect(groupNameOf('CN=Domain Admins,CN=Users,DC=corp,DC=example')).toBe('Domain Admins');
    expect(groupNameOf('cn=R\\2cD\\, Lab,ou=groups')).toBe('R,D, Lab');
    expect(groupNameOf('ou=no-cn,dc=example')).toBe('ou=no-cn,dc=example');
    expect(groupNameOf('engineers')).toBe('engineers');
  });
});

describe('LDAP mount configuration', () => {
  const base = { url: 'ldaps://ldap.example.org', userdn: 'ou=people,dc=example,dc=org' };

  it('fills Vault’s defaults', () => {
    expect(LdapMountConfigSchema.parse(base)).toMatchObject({
      starttls: false,
      insecure_tls: false,
      userattr: 'cn',
      userfilter: '({{.UserAttr}}={{.Username}})',
      groupattr: 'cn',
      groupfilter: '(|(memberUid={{.Username}})(member={{.UserDN}})(uniqueMember={{.UserDN}}))',
      request_timeout: 10,
      deny_null_bind: true,
      case_sensitive_names: false,
    });
  });

  it('refuses passwords in clear unless said out loud, and says how to fix it', () => {
    const plain = LdapMountConfigSchema.safeParse({ ...base, url: 'ldap://ldap.example.org' });
    expect(plain.success).toBe(false);
    expect(plain.error?.issues[0]?.message).toMatch(
      /in clear: use ldaps:\/\/, set starttls: true, or set insecure_plaintext/,
    );
    expect(LdapMountConfigSchema.safeParse({ ...base, url: 'ldap://ldap.example.org', starttls: true }).success).toBe(
      true,
    );
    expect(
      LdapMountConfigSchema.safeParse({ ...base, url: 'ldap://ldap.example.org', insecure_plaintext: true }).success,
    ).toBe(true);
  });

  it('refuses URLs with credentials or paths, a binddn without bindpass, attribute names with syntax in them', () => {
    for (const bad of [
      { url: 'ldaps://user:pw@ldap.example.org' },
      { url: 'https://ldap.example.org' },
      { url: 'ldaps://ldap.example.org/dc=x' },
      { binddn: 'cn=svc' },
      { userattr: 'uid)(cn=*' },
      { userfilter: '(uid={{.UserDN}})' },
      { certificate: 'not a certificate' },
    ]) {
      expect(LdapMountConfigSchema.safeParse({ ...base, ...bad }).success, JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('LDAP login binds (in-memory directory)', () => {
  const context: LoginContext = { sourceIp: '127.0.0.1', now: 0, requestId: 'r' };

  it('binds as user@upndomain (Active Directory), then finds the entry by userPrincipalName', async () => {
    const directory = fakeLdapDirectory([
      {
        dn: 'CN=Alice,CN=Users,DC=corp,DC=example',
        attributes: { userPrincipalName: ['alice@corp.example'], memberOf: ['CN=Devs,CN=Users,DC=corp,DC=example'] },
      },
    ]);
    // The fake accepts the UPN as a bind name, as AD does.
    const adDirectory = {
      ...directory,
      async open(options: Parameters<typeof directory.open>[0]) {
        const session = await directory.open(options);
        return {
          ...session,
          bind: async (dn: string, password: string) => {
            directory.log.binds.push(dn);
            if (dn !== 'alice@corp.example' || password !== 'pw') throw new Error('unexpected bind');
          },
        };
      },
    };
    const method = new LdapMethod({ ldap: adDirectory });
    const mount = {
      path: 'ad',
      id: 'ad.1',
      config: method.configSchema.parse({
        url: 'ldaps://dc.corp.example',
        upndomain: 'corp.example',
        userdn: 'CN=Users,DC=corp,DC=example',
        groupdn: 'CN=Users,DC=corp,DC=example',
        groupfilter: '(userPrincipalName={{.Username}}@corp.example)',
        groupattr: 'memberOf',
      }),
    };
    const roles = {
      get: async (name: string) => (name === 'groups/devs' ? { kind: 'group' as const, policies: ['dev'] } : undefined),
    };
    const outcome = await method.login(mount, { username: 'alice', password: 'pw' }, roles, context);
    expect(directory.log.binds).toEqual(['alice@corp.example']);
    expect(directory.log.filters[0]).toBe('(userPrincipalName=alice@corp.example)');
    expect(outcome).toMatchObject({ policies: ['dev'], alias: 'CN=Alice,CN=Users,DC=corp,DC=example' });
  });

  it('never binds with an empty password (deny_null_bind): an unauthenticated bind would "succeed"', async () => {
    const directory = fakeLdapDirectory([]);
    const method = new LdapMethod({ ldap: directory });
    const mount = { path: 'ldap', id: 'l.1', config: method.configSchema.parse({ url: 'ldaps://ldap.example.org' }) };
    await expect(
      method.login(mount, { username: 'alice', password: '' }, { get: async () => undefined }, context),
    ).rejects.toThrow('invalid username or password');
    expect(directory.log.binds).toEqual([]);
  });
});

describe('LDAP login: unknown users', () => {
  it('binds once even for a username no entry matches, so its timing matches a wrong password’s', async () => {
    const directory = fakeLdapDirectory([
      { dn: 'cn=svc,dc=example,dc=org', password: 'svc', attributes: { cn: ['svc'] } },
      { dn: 'uid=alice,ou=people,dc=example,dc=org', password: 'pw', attributes: { uid: ['alice'] } },
    ]);
    const method = new LdapMethod({ ldap: directory });
    const config = method.configSchema.parse({
      url: 'ldaps://ldap.example.org',
      binddn: 'cn=svc,dc=example,dc=org',
      bindpass: 'svc',
      userdn: 'ou=people,dc=example,dc=org',
      userattr: 'uid',
    });
    const mount = { path: 'ldap', id: 'l.1', config };
    const roles = { get: async () => undefined };
    const context: LoginContext = { sourceIp: '127.0.0.1', now: 0, requestId: 'r' };
    await expect(method.login(mount, { username: 'alice', password: 'wrong' }, roles, context)).rejects.toThrow(
      'invalid username or password',
    );
    const afterWrong = directory.log.binds.splice(0);
    await expect(method.login(mount, { username: 'mallory', password: 'x' }, roles, context)).rejects.toThrow(
      'invalid username or password',
    );
    const afterUnknown = directory.log.binds.splice(0);
    expect(afterUnknown).toHaveLength(afterWrong.length);
    expect(afterUnknown[1]).toMatch(/^cn=[0-9a-f]{32},ou=people,dc=example,dc=org$/);
  });
});
