import { describe, expect, it } from 'vitest';
import { canonicalContext } from '../../../../lambdas/core/crypto/encryption-context.ts';

describe('Function: canonicalContext', () => {
  it('renders the same entries identically whatever their order, integer-like keys included', () => {
    expect(canonicalContext({ b: '2', a: '1' })).toBe('{"a":"1","b":"2"}');
    expect(canonicalContext({ '9': 'x', '10': 'y' })).toBe(canonicalContext({ '10': 'y', '9': 'x' }));
    expect(canonicalContext({ '9': 'x', '10': 'y' })).toBe('{"10":"y","9":"x"}');
  });

  it('keeps distinct contexts distinct', () => {
    expect(canonicalContext({ a: 'b,c' })).not.toBe(canonicalContext({ a: 'b', c: '' }));
    expect(canonicalContext({})).toBe('{}');
  });

  it('refuses a value that is not a string', () => {
    expect(() => canonicalContext({ a: 1 as unknown as string })).toThrow(TypeError);
  });
});
