import { describe, expect, it } from 'vitest';
import { randomPassword } from '../../../../../lambdas/broker/routes/secretsmanager/random-password.ts';
import { ValidationError } from '../../../../../lambdas/core/errors.ts';

describe('GetRandomPassword rules', () => {
  it('defaults to 32 characters with every type present', () => {
    for (let i = 0; i < 50; i++) {
      const p = randomPassword();
      expect(p).toHaveLength(32);
      expect(p).toMatch(/[a-z]/);
      expect(p).toMatch(/[A-Z]/);
      expect(p).toMatch(/[0-9]/);
      expect(p).toMatch(/[^A-Za-z0-9]/);
      expect(p).not.toContain(' ');
    }
  });

  it('honours exclusions and includes a space only when asked', () => {
    const p = randomPassword({
      length: 200,
      excludeCharacters: 'abcABC123',
      excludePunctuation: true,
      includeSpace: true,
    });
    expect(p).not.toMatch(/[abcABC123]/);
    expect(p).toMatch(/^[A-Za-z0-9 ]+$/);
    // The space may appear, but is not one of the required types: across many passwords it does appear.
    const many = Array.from({ length: 20 }, () => randomPassword({ length: 200, includeSpace: true })).join('');
    expect(many).toContain(' ');
  });

  it('requires letters of each case, a digit and punctuation, never the space (AWS: PasswordLength=4, IncludeSpace)', () => {
    for (let i = 0; i < 50; i++) {
      const p = randomPassword({ length: 4, includeSpace: true });
      expect(p).toHaveLength(4);
      expect(p).toMatch(/[a-z]/);
      expect(p).toMatch(/[A-Z]/);
      expect(p).toMatch(/[0-9]/);
      expect(p).toMatch(/[^A-Za-z0-9 ]/);
    }
    expect(() => randomPassword({ length: 3, includeSpace: true })).toThrow(
      'Password length is too short based on the required types.',
    );
  });

  it('can drop the each-type requirement, and refuses impossible requests with the reason', () => {
    expect(randomPassword({ length: 1, requireEachIncludedType: false })).toHaveLength(1);
    expect(() => randomPassword({ length: 2 })).toThrow(/too short/);
    expect(() =>
      randomPassword({
        excludeLowercase: true,
        excludeUppercase: true,
        excludeNumbers: true,
        excludePunctuation: true,
      }),
    ).toThrow(ValidationError);
  });

  it('does not repeat itself', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => randomPassword({ length: 16 })));
    expect(seen.size).toBe(1000);
  });
});
