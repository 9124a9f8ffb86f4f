import { describe, expect, it } from 'vitest';
import {
  CreateTokenRequestSchema,
  LookupTokenRequestSchema,
  parseCreateTokenRequest,
  RenewTokenRequestSchema,
  RevokeTokenRequestSchema,
  toTokenTarget,
} from '../../../../../lambdas/core/auth/token/token-schema.ts';
import { ValidationError } from '../../../../../lambdas/core/errors.ts';

describe('Schema: CreateTokenRequestSchema', () => {
  it('accepts a full request', () => {
    const request = {
      policies: ['app'],
      ttl: '1h',
      explicitMaxTtl: 7200,
      numUses: 3,
      renewable: false,
      displayName: 'ci',
      meta: { team: 'payments' },
      identity: { name: 'bob', metadata: { team: 'blue' } },
      noParent: true,
    };
    expect(CreateTokenRequestSchema.parse(request)).toEqual(request);
    expect(CreateTokenRequestSchema.parse({})).toEqual({});
  });

  it.each([
    [{ unknown: 1 }],
    [{ ttl: '1 hour' }],
    [{ ttl: -1 }],
    [{ numUses: -1 }],
    [{ policies: ['Not A Policy'] }],
    [{ displayName: '' }],
    [{ meta: { key: 1 } }],
    [{ identity: {} }],
    [{ identity: { name: '' } }],
    [{ identity: { name: 'bob\n' } }],
    [{ identity: { name: 'bob', metadata: { team: 1 } } }],
    [{ identity: { name: 'bob', admin: true } }],
  ])('rejects %j', (request) => {
    expect(CreateTokenRequestSchema.safeParse(request).success).toBe(false);
    expect(() => parseCreateTokenRequest(request)).toThrow(ValidationError);
  });

  it('names the offending field in the error', () => {
    expect(() => parseCreateTokenRequest({ ttl: 'soon' })).toThrow(/ttl: invalid duration/);
  });
});

describe('Schema: token targets', () => {
  const token = `cft_${'x'.repeat(43)}`;

  it('requires exactly one of token or accessor', () => {
    expect(LookupTokenRequestSchema.safeParse({ token }).success).toBe(true);
    expect(LookupTokenRequestSchema.safeParse({ accessor: 'acc_1' }).success).toBe(true);
    expect(LookupTokenRequestSchema.safeParse({}).success).toBe(false);
    expect(LookupTokenRequestSchema.safeParse({ token, accessor: 'acc_1' }).success).toBe(false);
    expect(RenewTokenRequestSchema.safeParse({ accessor: 'acc_1', increment: '1h' }).success).toBe(true);
    expect(RevokeTokenRequestSchema.safeParse({ accessor: 'acc_1', orphan: true }).success).toBe(true);
  });

  it('never echoes the token in its errors', () => {
    const result = LookupTokenRequestSchema.safeParse({ token, accessor: 'acc_1', extra: true });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).not.toContain(token);
  });

  it('maps a parsed body to a service target', () => {
    expect(toTokenTarget({ token })).toEqual({ token });
    expect(toTokenTarget({ accessor: 'acc_1' })).toEqual({ accessor: 'acc_1' });
    expect(() => toTokenTarget({})).toThrow(ValidationError);
  });
});
