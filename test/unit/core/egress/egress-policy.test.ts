import { describe, expect, it } from 'vitest';
import { EgressPolicy, specialRange } from '../../../../lambdas/core/egress/egress-policy.ts';
import { PermissionDeniedError, ValidationError } from '../../../../lambdas/core/errors.ts';

const target = (host: string, port = 443) => ({ host, port, purpose: 'test' });
const allows = (policy: EgressPolicy, host: string, addresses: string[], port = 443) => {
  try {
    policy.check(target(host, port), addresses);
    return true;
  } catch (err) {
    if (err instanceof PermissionDeniedError) return false;
    throw err;
  }
};

describe('Class: EgressPolicy', () => {
  it('allows nothing by default', () => {
    expect(allows(EgressPolicy.none(), 'api.example.com', ['93.184.216.34'])).toBe(false);
    expect(allows(EgressPolicy.parse(''), 'api.example.com', ['93.184.216.34'])).toBe(false);
  });

  it('matches exact names, suffix wildcards, addresses, CIDRs and ports', () => {
    const policy = EgressPolicy.parse('api.example.com, *.internal.example.com:5432, 10.0.0.0/8, [2001:db8::/32]:443');
    expect(allows(policy, 'api.example.com', ['93.184.216.34'])).toBe(true);
    expect(allows(policy, 'API.Example.com.', ['93.184.216.34'])).toBe(true);
    expect(allows(policy, 'evil-api.example.com', ['93.184.216.34'])).toBe(false);
    expect(allows(policy, 'db.internal.example.com', ['192.0.2.1'], 5432)).toBe(true);
    expect(allows(policy, 'db.internal.example.com', ['192.0.2.1'], 5433)).toBe(false);
    // The wildcard stands for a label: the bare domain is not below itself.
    expect(allows(policy, 'internal.example.com', ['192.0.2.1'], 5432)).toBe(false);
    expect(allows(policy, 'anything', ['10.1.2.3'], 22)).toBe(true);
    expect(allows(policy, '2001:db8::1', ['2001:db8::1'], 443)).toBe(true);
    expect(allows(policy, '2001:db8::1', ['2001:db8::1'], 80)).toBe(false);
  });

  it('never lets a name or a wildcard reach loopback, link-local or unspecified addresses', () => {
    const policy = EgressPolicy.parse('*, db.example.com');
    expect(allows(policy, 'db.example.com', ['127.0.0.1'])).toBe(false);
    expect(allows(policy, 'metadata', ['169.254.169.254'])).toBe(false);
    expect(allows(policy, 'x', ['::1'])).toBe(false);
    expect(allows(policy, 'x', ['::ffff:127.0.0.1'])).toBe(false);
    expect(allows(policy, 'x', ['0.0.0.0'])).toBe(false);
    expect(allows(policy, 'x', ['fe80::1'])).toBe(false);
    expect(allows(policy, 'x', ['93.184.216.34'])).toBe(true);
  });

  it('lets loopback through only for an entry naming the address', () => {
    const policy = EgressPolicy.parse('127.0.0.1:5432');
    expect(allows(policy, 'localhost', ['127.0.0.1'], 5432)).toBe(true);
    expect(allows(policy, 'localhost', ['127.0.0.1'], 5433)).toBe(false);
    expect(allows(policy, '127.0.0.2', ['127.0.0.2'], 5432)).toBe(false);
  });

  it('refuses a name when any one of its addresses is refused (a DNS answer is the attacker’s to choose)', () => {
    const policy = EgressPolicy.parse('*');
    expect(allows(policy, 'mixed.example', ['93.184.216.34', '127.0.0.1'])).toBe(false);
    expect(allows(policy, 'empty.example', [])).toBe(false);
  });

  it('names the target and the reason in a refusal', () => {
    expect(() => EgressPolicy.parse('*').check(target('meta', 80), ['169.254.169.254'])).toThrow(
      /outbound connection refused: test meta:80: it resolves to a link-local address/,
    );
    expect(() => EgressPolicy.none().check(target('api.example.com'), ['93.184.216.34'])).toThrow(
      /not on the outbound allow-list \(COFFER_EGRESS_ALLOW\)/,
    );
  });

  it('refuses malformed entries at start-up, naming them', () => {
    for (const bad of ['db.*.example.com', 'exa mple.com', 'host:99999', 'host:0', '[::1', '10.0.0.0/33']) {
      expect(() => EgressPolicy.parse(bad), bad).toThrow(ValidationError);
    }
    expect(EgressPolicy.parse(' a.example, b.example:80 ').describe()).toEqual(['a.example', 'b.example:80']);
  });

  it('classifies the special ranges', () => {
    expect(specialRange('127.5.5.5')).toBe('loopback');
    expect(specialRange('169.254.1.1')).toBe('link-local');
    expect(specialRange('224.0.0.1')).toBe('multicast');
    expect(specialRange('8.8.8.8')).toBeUndefined();
    expect(specialRange('fd00:ec2::254')).toBe('instance metadata');
    expect(specialRange('64:ff9b::7f00:1')).toBe('IPv4-embedding');
    expect(specialRange('::7f00:1')).toBe('IPv4-embedding');
    expect(specialRange('::1')).toBe('loopback');
    expect(specialRange('2606:4700::1111')).toBeUndefined();
  });
});
