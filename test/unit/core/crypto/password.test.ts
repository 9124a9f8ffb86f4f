import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DIGITS,
  generatePassword,
  LOWERCASE,
  passwordClasses,
  UPPERCASE,
} from '../../../../lambdas/core/crypto/password.ts';
import { ValidationError } from '../../../../lambdas/core/errors.ts';

const PRINTABLE = fc.string({
  unit: fc.constantFrom(...'abcXYZ0123!#%&*+-.=?@^_~ '.split('')),
  minLength: 0,
  maxLength: 10,
});

/** Distinct classes (no character in two), each with a minimum, and characters to exclude from them. */
const scenario = fc
  .record({
    classes: fc.array(
      fc.record({ characters: fc.constantFrom(LOWERCASE, UPPERCASE, DIGITS, '!#%*+-.=?@^_~'), min: fc.nat(4) }),
      { minLength: 1, maxLength: 4 },
    ),
    exclude: PRINTABLE,
    extra: fc.nat(40),
  })
  .map(({ classes, exclude, extra }) => {
    const unique = [...new Map(classes.map((c) => [c.characters, c])).values()];
    const required = unique.reduce((sum, c) => sum + c.min, 0);
    return { classes: unique, exclude, length: required + extra };
  })
  .filter(({ classes, exclude, length }) => length > 0 && passwordClasses(classes, exclude).length > 0);

describe('generatePassword', () => {
  it('has the length asked, only allowed characters, and the minimum of every class that is not emptied', () => {
    fc.assert(
      fc.property(scenario, ({ classes, exclude, length }) => {
        const password = generatePassword({ length, classes, exclude });
        expect(password).toHaveLength(length);
        const allowed = passwordClasses(classes, exclude);
        const alphabet = new Set(allowed.flatMap((c) => [...c.characters]));
        for (const ch of password) expect(alphabet.has(ch)).toBe(true);
        for (const ch of exclude) expect(password).not.toContain(ch);
        for (const c of allowed) {
          const count = [...password].filter((ch) => c.characters.includes(ch)).length;
          expect(count).toBeGreaterThanOrEqual(c.min ?? 0);
        }
      }),
    );
  });

  it('draws every index within its bound, whatever the random source answers', () => {
    fc.assert(
      fc.property(
        scenario,
        fc.infiniteStream(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })),
        (s, draws) => {
          const bounds: number[] = [];
          const password = generatePassword({
            ...s,
            randomIndex: (bound) => {
              bounds.push(bound);
              return Math.floor(draws.next().value * bound);
            },
          });
          expect(password).toHaveLength(s.length);
          expect(bounds.every((b) => b > 0)).toBe(true);
        },
      ),
    );
  });

  it('shuffles, so the guaranteed characters are not always first', () => {
    const firsts = new Set(
      Array.from({ length: 200 }, () =>
        generatePassword({ length: 8, classes: [{ characters: DIGITS, min: 1 }, { characters: LOWERCASE }] }).charAt(0),
      ).map((ch) => (DIGITS.includes(ch) ? 'digit' : 'letter')),
    );
    expect(firsts).toEqual(new Set(['digit', 'letter']));
  });

  it('uses an injected source, so a fixed source gives a fixed password', () => {
    const password = generatePassword({ length: 4, classes: [{ characters: 'ab' }], randomIndex: () => 0 });
    expect(password).toBe('aaaa');
  });

  it('refuses a length below the minimums and an alphabet emptied by exclusions', () => {
    expect(() =>
      generatePassword({
        length: 1,
        classes: [
          { characters: 'a', min: 1 },
          { characters: 'b', min: 1 },
        ],
      }),
    ).toThrow(ValidationError);
    expect(() => generatePassword({ length: 4, classes: [{ characters: 'ab' }], exclude: 'ba' })).toThrow(/excluded/);
  });

  it('drops a class emptied by exclusions, its minimum with it', () => {
    const password = generatePassword({
      length: 12,
      classes: [
        { characters: 'xy', min: 3 },
        { characters: DIGITS, min: 1 },
      ],
      exclude: 'xy',
    });
    expect(password).toMatch(/^[0-9]{12}$/);
  });
});
