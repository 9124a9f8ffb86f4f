import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../lambdas/core/errors.ts';
import { newSerial, normaliseSerial } from '../../../../lambdas/engines/pki/pki-records.ts';

describe('Function: normaliseSerial', () => {
  it.each([
    ['0a1b2c', '0a1b2c'],
    ['0A:1B:2C', '0a1b2c'],
    [' 0a-1b-2c ', '0a1b2c'],
  ])('reads %j as %s', (input, expected) => {
    expect(normaliseSerial(input)).toBe(expected);
  });

  it.each(['', 'xyz', 'ab'.repeat(21), '0a 1b'])('refuses %j', (input) => {
    expect(() => normaliseSerial(input)).toThrow(ValidationError);
  });
});

describe('Function: newSerial', () => {
  it('draws again while the first byte is zero, so the hex and DER forms agree', () => {
    const draws = [Buffer.alloc(16), Buffer.from(`00${'11'.repeat(15)}`, 'hex'), Buffer.from('22'.repeat(16), 'hex')];
    expect(newSerial(() => draws.shift()!)).toBe('22'.repeat(16));
  });

  it('refuses a source that does not give 16 bytes', () => {
    expect(() => newSerial(() => Buffer.alloc(8, 1))).toThrow(RangeError);
  });
});
