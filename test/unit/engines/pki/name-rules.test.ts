import { describe, expect, it } from 'vitest';
import { PermissionDeniedError, ValidationError } from '../../../../lambdas/core/errors.ts';
import {
  allowingRule,
  checkDnsName,
  checkIpSan,
  normaliseDnsName,
} from '../../../../lambdas/engines/pki/name-rules.ts';
import { type PkiRole, PkiRoleSchema } from '../../../../lambdas/engines/pki/pki-role.ts';

const role = (fields: Record<string, unknown>): PkiRole => PkiRoleSchema.parse(fields);

describe('PKI name rules', () => {
  const cases: [string, Record<string, unknown>, string, string | undefined][] = [
    [
      'bare allowed',
      { allowed_domains: ['example.com'], allow_bare_domains: true },
      'example.com',
      'allow_bare_domains',
    ],
    ['bare not enabled', { allowed_domains: ['example.com'], allow_subdomains: true }, 'example.com', undefined],
    ['subdomain', { allowed_domains: ['example.com'], allow_subdomains: true }, 'api.example.com', 'allow_subdomains'],
    [
      'deep subdomain',
      { allowed_domains: ['example.com'], allow_subdomains: true },
      'a.b.example.com',
      'allow_subdomains',
    ],
    [
      'wildcard of the domain',
      { allowed_domains: ['example.com'], allow_subdomains: true },
      '*.example.com',
      'allow_subdomains',
    ],
    [
      'subdomain not enabled',
      { allowed_domains: ['example.com'], allow_bare_domains: true },
      'api.example.com',
      undefined,
    ],
    ['suffix trick', { allowed_domains: ['example.com'], allow_subdomains: true }, 'evilexample.com', undefined],
    ['other domain', { allowed_domains: ['example.com'], allow_subdomains: true }, 'example.org', undefined],
    ['parent of domain', { allowed_domains: ['api.example.com'], allow_subdomains: true }, 'example.com', undefined],
    [
      'glob',
      { allowed_domains: ['web-*.example.com'], allow_glob_domains: true },
      'web-01.example.com',
      'allow_glob_domains',
    ],
    [
      'glob star spans dots',
      { allowed_domains: ['*.example.com'], allow_glob_domains: true },
      'a.b.example.com',
      'allow_glob_domains',
    ],
    ['glob miss', { allowed_domains: ['web-*.example.com'], allow_glob_domains: true }, 'db-01.example.com', undefined],
    [
      'glob not enabled',
      { allowed_domains: ['web-*.example.com'], allow_subdomains: true },
      'web-01.example.com',
      undefined,
    ],
    [
      'glob dot is literal',
      { allowed_domains: ['web.example.com'], allow_glob_domains: true, allow_bare_domains: true },
      'webxexample.com',
      undefined,
    ],
    ['no domains', { allow_subdomains: true, allow_bare_domains: true }, 'example.com', undefined],
  ];
  it.each(cases)('%s', (_label, fields, name, rule) => {
    const r = role(fields);
    const allowed = allowingRule(r, normaliseDnsName(name));
    if (rule === undefined) {
      expect(allowed).toBeUndefined();
      expect(() => checkDnsName(r, normaliseDnsName(name))).toThrow(PermissionDeniedError);
    } else {
      expect(allowed).toContain(rule);
    }
  });

  it('names the refused name and the rules in the message', () => {
    const r = role({ allowed_domains: ['example.com'], allow_subdomains: true });
    expect(() => checkDnsName(r, 'evil.org')).toThrow(
      'name "evil.org" is not allowed by the role: allowed_domains [example.com] with allow_subdomains',
    );
  });

  it('normalises case and a trailing dot, and refuses malformed names', () => {
    expect(normaliseDnsName('API.Example.COM.')).toBe('api.example.com');
    for (const bad of ['', 'a..b', '-a.com', 'a-.com', 'a.*.com', 'a b.com', `${'a'.repeat(64)}.com`, '*']) {
      expect(() => normaliseDnsName(bad), bad).toThrow(ValidationError);
    }
  });

  it('refuses IP SANs unless the role allows them, and refuses non-addresses', () => {
    expect(() => checkIpSan(role({}), '10.0.0.1')).toThrow('IP SAN 10.0.0.1 refused: the role has allow_ip_sans false');
    expect(checkIpSan(role({ allow_ip_sans: true }), ' ::1 ')).toBe('::1');
    expect(() => checkIpSan(role({ allow_ip_sans: true }), '10.0.0.300')).toThrow(ValidationError);
  });

  it('validates roles: ttl within max_ttl, known key types and usages', () => {
    expect(PkiRoleSchema.safeParse({ ttl: '2h', max_ttl: '1h' }).success).toBe(false);
    expect(PkiRoleSchema.safeParse({ key_type: 'rsa-1024' }).success).toBe(false);
    expect(PkiRoleSchema.safeParse({ key_usage: ['CertSign'] }).success).toBe(false);
    expect(PkiRoleSchema.safeParse({ unknown_field: true }).success).toBe(false);
    const parsed = PkiRoleSchema.parse({ max_ttl: '1h30m', ttl: 60 });
    expect(parsed).toMatchObject({ max_ttl: 5400, ttl: 60, key_type: 'ec-p256', store_private_key: false });
  });
});
