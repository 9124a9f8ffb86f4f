import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluate, ROOT_POLICY } from '../../../../lambdas/core/policy/policy-engine.ts';
import {
  CAPABILITIES,
  type Capability,
  type PolicyDocument,
  type PolicyRule,
  type RequestedCapability,
} from '../../../../lambdas/core/policy/policy-types.ts';
import { request } from './fixtures.ts';

/**
 * Property tests against an independent, deliberately naive oracle (regexes and a sort), so that a bug in the
 * engine's fast paths cannot hide behind the same bug in the test.
 */

const SEGMENTS = ['a', 'b', 'ab', 'prod', 'production', 'x'];
const REQUESTABLE = CAPABILITIES.filter((c): c is RequestedCapability => c !== 'deny');

const segment = fc.constantFrom(...SEGMENTS);
const canonicalPath = fc.array(segment, { minLength: 1, maxLength: 5 }).map((parts) => parts.join('/'));

const pattern = fc
  .tuple(
    fc.array(fc.oneof(segment, fc.constant('+')), { minLength: 0, maxLength: 4 }),
    fc.constantFrom('none', 'child-glob', 'prefix-glob'),
    fc.constantFrom('', 'a', 'pro'),
  )
  .map(([parts, ending, stem]) => {
    if (parts.length === 0) return ending === 'none' ? (stem === '' ? 'a' : stem) : `${stem}*`;
    const body = parts.join('/');
    if (ending === 'child-glob') return `${body}/*`;
    if (ending === 'prefix-glob') return parts.at(-1) === '+' ? `${body}/${stem}*` : `${body}${stem}*`;
    return body;
  });

const ruleArb: fc.Arbitrary<PolicyRule> = fc.record({
  path: pattern,
  capabilities: fc.subarray([...CAPABILITIES] as Capability[], { minLength: 1 }),
});

const policies = fc
  .array(fc.array(ruleArb, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 3 })
  .map((rulesPerPolicy) => rulesPerPolicy.map((rules, i): PolicyDocument => ({ name: `p${i}`, rules })));

function oracleMatches(patternText: string, path: string): boolean {
  const glob = patternText.endsWith('*');
  const body = glob ? patternText.slice(0, -1) : patternText;
  const source = body
    .split('/')
    .map((part) => (part === '+' ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}${glob ? '.*' : ''}$`).test(path);
}

/** Vault's priority rules, written from the documentation; positive when `a` is more specific. */
function oraclePriority(a: string, b: string): number {
  const firstWildcard = (p: string) => {
    const parts = p.split('/');
    let offset = 0;
    for (const part of parts) {
      if (part === '+') return offset;
      offset += part.length + 1;
    }
    return p.endsWith('*') ? p.length - 1 : Number.POSITIVE_INFINITY;
  };
  const plusCount = (p: string) => p.split('/').filter((part) => part === '+').length;
  if (firstWildcard(a) !== firstWildcard(b)) return firstWildcard(a) > firstWildcard(b) ? 1 : -1;
  if (a.endsWith('*') !== b.endsWith('*')) return a.endsWith('*') ? -1 : 1;
  if (plusCount(a) !== plusCount(b)) return plusCount(b) - plusCount(a);
  if (a.length !== b.length) return a.length - b.length;
  return a === b ? 0 : a > b ? 1 : -1;
}

function oracleAllowed(docs: readonly PolicyDocument[], path: string, cap: RequestedCapability): boolean {
  const matching = docs.flatMap((doc) => doc.rules).filter((r) => oracleMatches(r.path, path));
  if (matching.some((r) => r.capabilities.includes('deny'))) return false;
  const granting = matching.filter((r) => r.capabilities.some((c) => c !== 'deny'));
  if (granting.length === 0) return false;
  const best = granting.reduce((a, b) => (oraclePriority(b.path, a.path) > 0 ? b : a));
  return granting.filter((r) => r.path === best.path).some((r) => r.capabilities.includes(cap));
}

function oracleCanonical(path: string): boolean {
  if (path.length === 0 || path.length > 1024) return false;
  if (/[\s%\\\p{Cc}\p{Cf}\p{Z}\p{Cs}]/u.test(path)) return false;
  return path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

describe('Function: evaluate (properties)', () => {
  it('only allows through a matching, granting rule with no matching deny', () => {
    fc.assert(
      fc.property(policies, canonicalPath, fc.constantFrom(...REQUESTABLE), (docs, path, cap) => {
        const decision = evaluate(docs, request(path, cap));
        if (!decision.allowed) return;
        const by = decision.decidedBy!;
        const decider = docs.find((d) => d.name === by.policy)!.rules[by.rule]!;
        expect(decider.path).toBe(by.path);
        expect(oracleMatches(decider.path, path)).toBe(true);
        expect(decider.capabilities).toContain(cap);
        const denying = docs.flatMap((d) => d.rules).filter((r) => r.capabilities.includes('deny'));
        expect(denying.some((r) => oracleMatches(r.path, path))).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with the oracle on every decision', () => {
    fc.assert(
      fc.property(policies, canonicalPath, fc.constantFrom(...REQUESTABLE), (docs, path, cap) => {
        expect(evaluate(docs, request(path, cap)).allowed).toBe(oracleAllowed(docs, path, cap));
      }),
      { numRuns: 2000 },
    );
  });

  it('lets even the root policy reach only canonical paths', () => {
    const alphabet = fc.constantFrom('a', 'b', '/', '.', '%', '2', 'F', '\\', ' ', '\t', '\0', '\u200b', '\u00a0', 'é');
    const hostilePath = fc.array(alphabet, { maxLength: 12 }).map((chars) => chars.join(''));
    fc.assert(
      fc.property(hostilePath, (path) => {
        expect(evaluate([ROOT_POLICY], request(path, 'read')).allowed).toBe(oracleCanonical(path));
      }),
      { numRuns: 3000 },
    );
  });
});
