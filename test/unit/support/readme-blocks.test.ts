import { describe, expect, it } from 'vitest';
import { firstCommand, parseAnnotation, shellBlocks } from '../../support/readme-blocks.ts';

const FENCE = '```';

describe('Function: shellBlocks', () => {
  it('finds sh, bash and shell blocks in order, with their line, heading and text, and nothing else', () => {
    const markdown = [
      '# Title',
      `${FENCE}sh`,
      'echo one',
      FENCE,
      '## Second',
      `${FENCE}json`,
      '{ "not": "run" }',
      FENCE,
      `${FENCE}bash`,
      'echo two',
      'echo three',
      FENCE,
      '### Third ###',
      `${FENCE}text`,
      '$ echo output',
      FENCE,
      `${FENCE}shell`,
      FENCE,
    ].join('\n');
    expect(shellBlocks(markdown)).toEqual([
      { line: 2, heading: 'Title', code: 'echo one\n', mode: { kind: 'run', aws: false } },
      { line: 9, heading: 'Second', code: 'echo two\necho three\n', mode: { kind: 'run', aws: false } },
      { line: 17, heading: 'Third', code: '\n', mode: { kind: 'run', aws: false } },
    ]);
  });

  it('takes the annotation on the line before a fence', () => {
    const markdown = [
      '<!-- readme-test: server -->',
      `${FENCE}sh`,
      'npm start',
      FENCE,
      '<!-- readme-test: server:postgres -->',
      `${FENCE}sh`,
      'npx coffer dev postgres',
      FENCE,
      '<!-- readme-test: aws server -->',
      `${FENCE}sh`,
      'AWS_REGION=us-east-1 npm start',
      FENCE,
      '<!--readme-test:aws-->',
      `${FENCE}sh`,
      'npx coffer creds get aws/deploy',
      FENCE,
      '<!-- readme-test: skip "needs an AWS account" -->',
      `${FENCE}sh`,
      'npx cdk deploy',
      FENCE,
    ].join('\n');
    expect(shellBlocks(markdown).map((b) => b.mode)).toEqual([
      { kind: 'server', name: 'server', aws: false },
      { kind: 'server', name: 'postgres', aws: false },
      { kind: 'server', name: 'server', aws: true },
      { kind: 'run', aws: true },
      { kind: 'skip', reason: 'needs an AWS account' },
    ]);
  });

  it('keeps fences inside other fences as text', () => {
    const markdown = ['````markdown', `${FENCE}sh`, 'not a block', FENCE, '````', `${FENCE}sh`, 'a block', FENCE].join(
      '\n',
    );
    expect(shellBlocks(markdown).map((b) => b.code)).toEqual(['a block\n']);
  });

  it('removes the indentation of a fence inside a list item', () => {
    const markdown = ['- step:', '  ```sh', '  echo indented', '    echo more', '  ```'].join('\n');
    expect(shellBlocks(markdown)[0]?.code).toBe('echo indented\n  echo more\n');
  });

  it('refuses an annotation that does not sit right before a shell block', () => {
    expect(() => shellBlocks(['<!-- readme-test: server -->', '', `${FENCE}sh`, 'x', FENCE].join('\n'))).toThrow(
      /line 1: readme-test annotation without a shell block/,
    );
    expect(() => shellBlocks(['<!-- readme-test: aws -->', `${FENCE}json`, '{}', FENCE].join('\n'))).toThrow(
      /before a json block/,
    );
    expect(() => shellBlocks('text\n<!-- readme-test: aws -->')).toThrow(/line 2/);
  });

  it('refuses an unclosed fence', () => {
    expect(() => shellBlocks(`${FENCE}sh\necho`)).toThrow(/line 1: unclosed code fence/);
  });
});

describe('Function: parseAnnotation', () => {
  it('refuses unknown or repeated words, and an unquoted or empty skip reason', () => {
    for (const bad of ['', 'serve', 'aws aws', 'server server', 'skip', 'skip no quotes', 'skip ""', 'server:Bad']) {
      expect(() => parseAnnotation(bad, 7), bad).toThrow(/line 7/);
    }
  });
});

describe('Function: firstCommand', () => {
  it('skips blank and comment lines', () => {
    const [block] = shellBlocks(`${FENCE}sh\n\n# a comment\n  npm ci && npm test   # all\n${FENCE}`);
    expect(firstCommand(block!)).toBe('npm ci && npm test   # all');
  });
});
