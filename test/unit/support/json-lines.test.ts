import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readJsonLines } from '../../support/json-lines.js';
import { tempDir } from '../../support/server-process.js';

describe('readJsonLines', () => {
  const { dir, cleanup } = tempDir('coffer-jsonl-');
  afterAll(cleanup);

  it('reads every complete line and leaves out one still being appended', () => {
    const file = path.join(dir, 'log.jsonl');
    writeFileSync(file, '{"seq":1}\n\n{"seq":2}\n{"seq":3,"op');
    expect(readJsonLines(file)).toEqual([{ seq: 1 }, { seq: 2 }]);
  });

  it('reads nothing from an empty file', () => {
    const file = path.join(dir, 'empty.jsonl');
    writeFileSync(file, '');
    expect(readJsonLines(file)).toEqual([]);
  });
});
