import { describe, expect, it } from 'vitest';
import { globMatch } from '../../../../../lambdas/core/auth/methods/globs.ts';

describe('Function: globMatch', () => {
  it.each([
    ['octo-org/*', 'octo-org/api', true],
    ['octo-org/*', 'octo-org/', true],
    ['octo-org/*', 'evil-org/api', false],
    ['refs/heads/*', 'refs/heads/feature/deep', true],
    ['*@refs/heads/main', 'octo-org/api/.github/workflows/deploy.yml@refs/heads/main', true],
    ['*@refs/heads/main', 'octo-org/api/.github/workflows/deploy.yml@refs/heads/mainx', false],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYY', false],
    ['exact', 'exact', true],
    ['exact', 'exactly', false],
    ['*', '', true],
    ['?', 'x', false],
  ])('%s matches %s: %s', (pattern, text, expected) => {
    expect(globMatch(pattern, text)).toBe(expected);
  });

  it('stays linear-ish on a pattern of many stars', () => {
    expect(globMatch(`${'*a'.repeat(50)}b`, 'a'.repeat(5000))).toBe(false);
  });
});
