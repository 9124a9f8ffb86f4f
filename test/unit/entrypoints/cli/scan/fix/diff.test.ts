import { describe, expect, it } from 'vitest';
import { redactedLines, unifiedDiff } from '../../../../../../lambdas/entrypoints/cli/scan/fix/diff.ts';

/** The span of `text` in `content`, replaced by `replacement` (or a secret left in place without one). */
function span(content: string, text: string, replacement?: string) {
  const start = content.indexOf(text);
  expect(start).toBeGreaterThanOrEqual(0);
  return { start, end: start + text.length, replacement };
}

const numbered = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}`).join('\n');

describe('unifiedDiff', () => {
  it('shows each replaced line with 3 lines of context and the secret redacted', () => {
    const content = `${numbered(1, 4)}\nDB_PASSWORD=Zx81Qw93Er47Ty65Ui20\n${numbered(6, 10)}\n`;
    const diff = unifiedDiff('.env', content, [span(content, 'Zx81Qw93Er47Ty65Ui20', 'coffer://app/db-password')]);
    expect(diff).toBe(
      [
        '--- a/.env',
        '+++ b/.env',
        '@@ -2,7 +2,7 @@',
        ' line 2',
        ' line 3',
        ' line 4',
        '-DB_PASSWORD=Zx81…(20 chars)',
        '+DB_PASSWORD=coffer://app/db-password',
        ' line 6',
        ' line 7',
        ' line 8',
        '',
      ].join('\n'),
    );
  });

  it('joins changes on neighbouring lines into one block, and close changes into one hunk', () => {
    const content = 'A=aaaaaaaaaaaaaaaa\nB=bbbbbbbbbbbbbbbb\nc\nd\ne\nf\nG=gggggggggggggggg\n';
    const diff = unifiedDiff('.env', content, [
      span(content, 'aaaaaaaaaaaaaaaa', 'coffer://a'),
      span(content, 'bbbbbbbbbbbbbbbb', 'coffer://b'),
      span(content, 'gggggggggggggggg', 'coffer://g'),
    ]);
    expect(diff).toBe(
      [
        '--- a/.env',
        '+++ b/.env',
        '@@ -1,7 +1,7 @@',
        '-A=aaaa…(16 chars)',
        '-B=bbbb…(16 chars)',
        '+A=coffer://a',
        '+B=coffer://b',
        ' c',
        ' d',
        ' e',
        ' f',
        '-G=gggg…(16 chars)',
        '+G=coffer://g',
        '',
      ].join('\n'),
    );
  });

  it('numbers a later hunk on the new side after the lines an earlier one removed', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----';
    const content = `KEY='${pem}'\n${numbered(4, 12)}\nTOKEN=tttttttttttttttttttt\n`;
    const diff = unifiedDiff('.env', content, [
      span(content, `'${pem}'`, 'coffer://key'),
      span(content, 'tttttttttttttttttttt', 'coffer://token'),
    ]);
    const hunks = diff.split('\n').filter((line) => line.startsWith('@@'));
    // The key's three lines show as one, which says how many it had; starts are the lines of the file.
    expect(hunks).toEqual(['@@ -1,4 +1,4 @@', '@@ -10,4 +8,4 @@']);
    expect(diff).toContain(`-KEY='---…(${pem.length + 2} chars, 3 lines)\n+KEY=coffer://key\n line 4\n`);
  });

  it('redacts a secret that is not replaced (its import failed) wherever it shows as context', () => {
    const content = 'A=aaaaaaaaaaaaaaaa\nB=bbbbbbbbbbbbbbbb\n';
    const diff = unifiedDiff('.env', content, [
      span(content, 'aaaaaaaaaaaaaaaa', 'coffer://a'),
      span(content, 'bbbbbbbbbbbbbbbb'),
    ]);
    expect(diff).not.toContain('bbbbbbbbbbbbbbbb');
    expect(diff).toContain(' B=bbbb…(16 chars)\n');
    const sameLine = 'X=aaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbb\n';
    const both = unifiedDiff('x.conf', sameLine, [
      span(sameLine, 'aaaaaaaaaaaaaaaa', '{{ secret "a" }}'),
      span(sameLine, 'bbbbbbbbbbbbbbbb'),
    ]);
    expect(both).toContain('+X={{ secret "a" }},bbbb…(16 chars)\n');
    expect(both).not.toContain('bbbbbbbbbbbbbbbb');
  });

  it('is empty when nothing is replaced', () => {
    const content = 'A=aaaaaaaaaaaaaaaa\n';
    expect(unifiedDiff('.env', content, [span(content, 'aaaaaaaaaaaaaaaa')])).toBe('');
  });
});

describe('redactedLines', () => {
  it('keeps the number of lines of the secret, and says it', () => {
    expect(redactedLines('abcdefgh\nijklmnop\nqrstuvwx')).toBe('abcd…(26 chars, 3 lines)\n…\n…');
    expect(redactedLines('abcdefgh')).toBe('ab…(8 chars)');
  });

  it('shows a multi-line secret left in place (failed) on its lines, as context', () => {
    const content = "A=aaaaaaaaaaaaaaaa\nB='bbbbbbbb\nbbbbbbbb'\n";
    const diff = unifiedDiff('.env', content, [
      span(content, 'aaaaaaaaaaaaaaaa', 'coffer://a'),
      span(content, "'bbbbbbbb\nbbbbbbbb'"),
    ]);
    expect(diff).toBe(
      [
        '--- a/.env',
        '+++ b/.env',
        '@@ -1,3 +1,3 @@',
        '-A=aaaa…(16 chars)',
        '+A=coffer://a',
        " B='bbb…(19 chars, 2 lines)",
        ' …',
        '',
      ].join('\n'),
    );
  });
});
