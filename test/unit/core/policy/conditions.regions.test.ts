import { describe, expect, it } from 'vitest';
import { evaluate } from '../../../../lambdas/core/policy/policy-engine.ts';
import { parsePolicyDocument } from '../../../../lambdas/core/policy/policy-schema.ts';
import { policy, request, rule } from './fixtures.ts';

function inRegion(path: string, region: string | undefined) {
  const base = request(path, 'read');
  return { ...base, context: { ...base.context, ...(region === undefined ? {} : { region }) } };
}

describe('Policy condition: regions (aws:RequestedRegion)', () => {
  const regional = policy(
    'regional',
    rule('secrets/app/*', ['read'], { regions: ['us-east-1', 'eu-west-1'] }),
    rule('secrets/any/*', ['read']),
    rule('secrets/any/eu-only', ['deny'], { regions: ['us-east-1'] }),
  );

  it('grants only in the regions it lists', () => {
    expect(evaluate([regional], inRegion('secrets/app/db', 'us-east-1')).allowed).toBe(true);
    expect(evaluate([regional], inRegion('secrets/app/db', 'eu-west-1')).allowed).toBe(true);
    const elsewhere = evaluate([regional], inRegion('secrets/app/db', 'us-west-2'));
    expect(elsewhere.allowed).toBe(false);
    expect(elsewhere.reason).toContain("this request's region us-west-2 is none of them");
  });

  it('does not hold for a request that names no region', () => {
    expect(evaluate([regional], inRegion('secrets/app/db', undefined)).allowed).toBe(false);
  });

  it('applies in every region when the rule has no regions condition', () => {
    for (const region of ['us-east-1', 'ap-southeast-2', 'us-gov-west-1']) {
      expect(evaluate([regional], inRegion('secrets/any/db', region)).allowed).toBe(true);
    }
  });

  it('limits a deny rule to its regions as well', () => {
    expect(evaluate([regional], inRegion('secrets/any/eu-only', 'us-east-1')).allowed).toBe(false);
    expect(evaluate([regional], inRegion('secrets/any/eu-only', 'eu-west-1')).allowed).toBe(true);
  });

  it('refuses a region that is not a region name, and an empty list', () => {
    expect(() =>
      parsePolicyDocument({
        name: 'p',
        rules: [{ path: 'secrets/*', capabilities: ['read'], conditions: { regions: ['EU West'] } }],
      }),
    ).toThrow(/regions\[0\].*region name/);
    expect(() =>
      parsePolicyDocument({
        name: 'p',
        rules: [{ path: 'secrets/*', capabilities: ['read'], conditions: { regions: [] } }],
      }),
    ).toThrow(/at least one region/);
    const parsed = parsePolicyDocument({
      name: 'p',
      rules: [{ path: 'secrets/*', capabilities: ['read'], conditions: { regions: ['us-east-2'] } }],
    });
    expect(parsed.rules[0]?.conditions?.regions).toEqual(['us-east-2']);
  });
});
