import { describe, expect, it } from 'vitest';
import { parseSize } from '../../../../../lambdas/entrypoints/cli/commands/scan.ts';
import { fingerprintOf, redact } from '../../../../../lambdas/entrypoints/cli/scan/finding.ts';
import { addedLines } from '../../../../../lambdas/entrypoints/cli/scan/sources.ts';

describe('Function: redact', () => {
  it('shows four characters and the length, and fewer of a short secret', () => {
    expect(redact('AKIAQWERTYUIOPASDFGH')).toBe('AKIA…(20 chars)');
    expect(redact('hunter2hunter')).toBe('hun…(13 chars)');
    expect(redact('abc')).toBe('…(3 chars)');
  });
});

describe('Function: fingerprintOf', () => {
  it('depends on the rule, the path and the secret, and holds none of them', () => {
    const base = fingerprintOf('coffer/jwt', 'a.ts', 'the-secret-value');
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprintOf('coffer/jwt', 'a.ts', 'the-secret-value')).toBe(base);
    expect(fingerprintOf('coffer/jwt', 'b.ts', 'the-secret-value')).not.toBe(base);
    expect(fingerprintOf('coffer/private-key', 'a.ts', 'the-secret-value')).not.toBe(base);
    expect(fingerprintOf('coffer/jwt', 'a.ts', 'the-secret-valuf')).not.toBe(base);
  });
});

describe('Function: addedLines', () => {
  it('reads the new side of each hunk, and skips pure deletions', () => {
    const diff = ['@@ -0,0 +1,3 @@', '+a', '@@ -10 +12 @@', '-x', '+y', '@@ -20,2 +21,0 @@', '-gone'].join('\n');
    expect(addedLines(diff)).toEqual([
      [1, 3],
      [12, 12],
    ]);
  });
});

describe('Function: parseSize', () => {
  it('reads bytes, k and m', () => {
    expect(parseSize('100')).toBe(100);
    expect(parseSize('512k')).toBe(512 * 1024);
    expect(parseSize('2MiB')).toBe(2 * 1024 * 1024);
  });

  it('refuses anything else as a usage error', () => {
    expect(() => parseSize('lots')).toThrow(expect.objectContaining({ exitCode: 2 }));
  });
});
