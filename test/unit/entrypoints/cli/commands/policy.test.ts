import { describe, expect, it } from 'vitest';
import { explainDecision } from '../../../../../lambdas/entrypoints/cli/commands/policy.ts';

describe('Function: explainDecision', () => {
  it('names the deciding rule of a decision made by readable policies', () => {
    expect(
      explainDecision({
        allowed: true,
        reason: 'allowed by a rule',
        decidedBy: { policy: 'app', rule: 0, path: 'secrets/app/*' },
      }),
    ).toBe('ALLOWED: allowed by a rule\ndecided by: policy "app" rule #0 (secrets/app/*)');
  });

  it('says which policies it may not show, and how the readable ones alone decide', () => {
    const text = explainDecision({
      allowed: false,
      reason: 'policies the caller may not read took part in this decision',
      hiddenPolicies: ['ops'],
      readableOnly: {
        allowed: true,
        reason: 'allowed by a rule',
        decidedBy: { policy: 'app', rule: 1, path: 'secrets/app/*' },
      },
    });
    expect(text.split('\n')).toEqual([
      'DENIED: policies the caller may not read took part in this decision',
      'policies you may not read took part: ops',
      'the policies you may read alone: ALLOWED: allowed by a rule (policy "app" rule #1)',
    ]);
  });
});
