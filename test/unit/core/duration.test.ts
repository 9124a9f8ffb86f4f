import { describe, expect, it } from 'vitest';
import { DurationInputSchema, DurationSchema } from '../../../lambdas/core/duration.ts';

describe('Schema: DurationSchema', () => {
  it.each([
    ['1h30m', 5400],
    ['90', 90],
    [0, 0],
    [86_400, 86_400],
  ])('parses %j to %d seconds', (input, seconds) => {
    expect(DurationSchema.parse(input)).toBe(seconds);
  });

  it.each([['1 hour'], ['30m1h'], [''], [-1], [1.5], ['x'.repeat(33)], [true]])('refuses %j', (input) => {
    expect(DurationSchema.safeParse(input).success).toBe(false);
  });

  it('says why a string is not a duration', () => {
    const result = DurationSchema.safeParse('soon');
    expect(result.error?.issues[0]?.message).toMatch(/invalid duration "soon"/);
  });
});

describe('Schema: DurationInputSchema', () => {
  it('validates like DurationSchema but keeps the value as the caller wrote it', () => {
    expect(DurationInputSchema.parse('1h30m')).toBe('1h30m');
    expect(DurationInputSchema.safeParse('30m1h').success).toBe(false);
  });
});
