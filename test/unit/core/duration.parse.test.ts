import { describe, expect, it } from 'vitest';
import { MAX_DURATION_SECONDS, parseDuration } from '../../../lambdas/core/duration.ts';
import { ValidationError } from '../../../lambdas/core/errors.ts';

describe('Function: parseDuration', () => {
  it.each([
    [90, 90],
    [0, 0],
    ['90', 90],
    ['90s', 90],
    ['15m', 900],
    ['1h', 3600],
    ['1h30m', 5400],
    ['2d', 172_800],
    ['1d2h3m4s', 93_784],
    ['768h', 2_764_800],
  ])('parses %j as %d seconds', (input, seconds) => {
    expect(parseDuration(input)).toBe(seconds);
  });

  it.each([
    [-1],
    ['-1'],
    ['-5m'],
    [1.5],
    ['1.5h'],
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    [''],
    ['h'],
    ['10x'],
    ['1h '],
    [' 1h'],
    ['30m1h'],
    ['1h1h'],
    ['forever'],
    [MAX_DURATION_SECONDS + 1],
    ['99999999999999999999d'],
  ])('rejects %j', (input) => {
    expect(() => parseDuration(input)).toThrow(ValidationError);
  });
});
