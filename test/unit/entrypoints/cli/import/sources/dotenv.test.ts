import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  dotenvEntries,
  dotenvSource,
  parseDotenv,
} from '../../../../../../lambdas/entrypoints/cli/import/sources/dotenv.ts';

const parse = (text: string) => Object.fromEntries(parseDotenv(text));

describe('dotenvEntries', () => {
  const written = (text: string) =>
    dotenvEntries(text).map((e) => [e.key, e.line, text.slice(e.valueStart, e.valueEnd)]);

  it('gives where each value is written: unquoted without the comment, quoted with its quotes, over lines', () => {
    const text = 'A=abc # note\nexport B = "x y"  # b\nC=\'-----BEGIN\nabc\n-----END\'\nD=\nE=ab#c\n';
    expect(written(text)).toEqual([
      ['A', 1, 'abc'],
      ['B', 2, '"x y"'],
      ['C', 3, "'-----BEGIN\nabc\n-----END'"],
      ['D', 6, ''],
      ['E', 7, 'ab#c'],
    ]);
  });

  it('gives offsets in the text as written when lines end in CRLF', () => {
    const text = 'A=1\r\nB="two\r\nlines"\r\nC=three\r\n';
    expect(written(text)).toEqual([
      ['A', 1, '1'],
      ['B', 2, '"two\r\nlines"'],
      ['C', 4, 'three'],
    ]);
  });

  it('lists a key defined twice twice, each with its own value', () => {
    expect(dotenvEntries('A=1\nA=2\n').map((e) => [e.key, e.value, e.line])).toEqual([
      ['A', '1', 1],
      ['A', '2', 2],
    ]);
  });
});

describe('parseDotenv', () => {
  it('reads KEY=value, `export`, spaces around the key and value, and skips blank and comment lines', () => {
    expect(parse('# a comment\n\nA=1\nexport B=two\n  C = three  \n')).toEqual({ A: '1', B: 'two', C: 'three' });
  });

  it('ends an unquoted value at a comment that follows whitespace, but keeps a # inside a value', () => {
    expect(parse('A=abc # note\nB=ab#c\n')).toEqual({ A: 'abc', B: 'ab#c' });
  });

  it('keeps single- and backtick-quoted values literal, and expands the escapes of double quotes', () => {
    expect(parse(`A='x\\ny $HOME'\nB=\`it's\`\nC="l1\\nl2\\t\\"q\\" \\\\"\n`)).toEqual({
      A: 'x\\ny $HOME',
      B: "it's",
      C: 'l1\nl2\t"q" \\',
    });
  });

  it('reads quoted values over several lines, with a comment after the closing quote', () => {
    const text = 'KEY="-----BEGIN KEY-----\nabc\n-----END KEY-----" # pem\nNEXT=1\n';
    expect(parse(text)).toEqual({ KEY: '-----BEGIN KEY-----\nabc\n-----END KEY-----', NEXT: '1' });
  });

  it('lets a later definition win, keeps an empty value, and reads CRLF files', () => {
    expect(parse('A=1\r\nA=2\r\nB=\r\n')).toEqual({ A: '2', B: '' });
  });

  it('does not expand variables: a value is stored as written', () => {
    const reference = `$${'{HOME}'}/x`;
    expect(parse(`A=${reference}\n`)).toEqual({ A: reference });
  });

  it('refuses a malformed line by its number, without quoting its text', () => {
    expect(() => parse('A=1\nnot a pair s3cr3t\n')).toThrow(/^line 2: expected KEY=value$/);
    expect(() => parse('A="open\n')).toThrow('line 1: unterminated " quote');
    expect(() => parse("A='x' trailing\n")).toThrow('line 1: unexpected text after the closing quote');
  });

  it('counts the lines of a multi-line value when naming a later bad line', () => {
    expect(() => parse('A="1\n2\n3"\nbad\n')).toThrow(/^line 4:/);
  });
});

describe('dotenvSource', () => {
  it('names {{source}} after the file without its .env part', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-dotenv-'));
    const sourceOf = async (name: string) => {
      writeFileSync(path.join(dir, name), 'A=1\n');
      return (await dotenvSource(path.join(dir, name)).items())[0]!.vars.source;
    };
    expect(await sourceOf('.env')).toBe('env');
    expect(await sourceOf('.env.prod')).toBe('prod');
    expect(await sourceOf('staging.env')).toBe('staging');
    expect(await sourceOf('settings')).toBe('settings');
  });
});
