import { describe, expect, it } from 'vitest';
import { checkBoundClaims, getClaim, mapClaims, userClaim } from '../../../../../lambdas/core/auth/jwt/jwt-claims.ts';
import { JwtLoginError } from '../../../../../lambdas/core/auth/jwt/jwt-errors.ts';

const claims = {
  sub: 'system:serviceaccount:payments:api',
  groups: ['dev', 'ops'],
  'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'api' } },
  'a/b': 'slash',
  run: 42,
  admin: false,
  nested: { list: [{ x: 'first' }] },
};

describe('Function: getClaim', () => {
  it('reads a top-level claim by name and nested ones by JSON pointer', () => {
    expect(getClaim(claims, 'sub')).toBe('system:serviceaccount:payments:api');
    expect(getClaim(claims, '/kubernetes.io/namespace')).toBe('payments');
    expect(getClaim(claims, '/kubernetes.io/serviceaccount/name')).toBe('api');
    expect(getClaim(claims, '/a~1b')).toBe('slash');
    expect(getClaim(claims, '/nested/list/0/x')).toBe('first');
    expect(getClaim(claims, '/groups/1')).toBe('ops');
  });

  it('finds nothing through inherited properties or bad indexes', () => {
    expect(getClaim(claims, '__proto__')).toBeUndefined();
    expect(getClaim(claims, '/constructor/name')).toBeUndefined();
    expect(getClaim(claims, '/groups/01')).toBeUndefined();
    expect(getClaim(claims, '/groups/length')).toBeUndefined();
    expect(getClaim(claims, '/missing/deeper')).toBeUndefined();
  });
});

describe('Function: checkBoundClaims', () => {
  it('passes when one value of a list claim equals one bound value, and compares scalars as text', () => {
    expect(() =>
      checkBoundClaims(claims, { groups: ['admins', 'ops'], run: '42', admin: false }, 'string'),
    ).not.toThrow();
    expect(() => checkBoundClaims(claims, { '/kubernetes.io/namespace': 'pay*' }, 'glob')).not.toThrow();
  });

  it('names the claim, never its value, when it is missing or does not match', () => {
    expect(() => checkBoundClaims(claims, { groups: 'admins' }, 'string')).toThrow(
      new JwtLoginError('claim', 'claim "groups" does not match the role'),
    );
    expect(() => checkBoundClaims(claims, { repository: 'x' }, 'string')).toThrow('claim "repository" is missing');
    expect(() => checkBoundClaims(claims, { '/kubernetes.io/namespace': 'pay*' }, 'string')).toThrow(
      'does not match the role',
    );
    // An object claim matches no value.
    expect(() => checkBoundClaims(claims, { nested: '*' }, 'glob')).toThrow('does not match the role');
  });
});

describe('Function: mapClaims', () => {
  it('copies present scalar claims into metadata and skips absent ones', () => {
    expect(
      mapClaims(claims, { '/kubernetes.io/namespace': 'namespace', run: 'run', admin: 'admin', absent: 'x' }),
    ).toEqual({ namespace: 'payments', run: '42', admin: 'false' });
  });

  it('refuses a list or object claim and an overlong one', () => {
    expect(() => mapClaims(claims, { groups: 'groups' })).toThrow(
      'claim "groups" (mapped to metadata "groups") is not a string',
    );
    expect(() => mapClaims({ long: 'x'.repeat(513) }, { long: 'long' })).toThrow('is too long');
  });
});

describe('Function: userClaim', () => {
  it('returns the claim as text, and refuses a missing or structured one', () => {
    expect(userClaim(claims, 'sub')).toBe('system:serviceaccount:payments:api');
    expect(userClaim(claims, 'run')).toBe('42');
    expect(() => userClaim(claims, 'email')).toThrow('claim "email" (user_claim) is missing');
    expect(() => userClaim(claims, 'groups')).toThrow('claim "groups" (user_claim) is not a string');
  });
});
