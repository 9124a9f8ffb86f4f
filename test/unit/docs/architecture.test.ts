import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const DOC = readFileSync(path.join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8');

/** The lines of the tree map (the first fenced block) that sit directly under `lambdas/`: two spaces of indent. */
function mappedTopLevel(doc: string): Set<string> {
  const tree = doc.split('```')[1] ?? '';
  const names = tree
    .split('\n')
    .filter((line) => /^ {2}\S/.test(line))
    .flatMap((line) => (line.trim().split(/\s{2,}/)[0] ?? '').split(/\s+/));
  return new Set(names.map((name) => name.replace(/\/$/, '')));
}

const TOP_LEVEL = readdirSync(path.join(ROOT, 'lambdas')).filter((name) => !name.includes('.'));

/**
 * Every backticked path under `lambdas/`, written in full or from a top-level folder (`core/ports/store.ts`), with
 * wildcards and placeholders cut off where they start.
 */
function namedLambdaPaths(doc: string, topLevel: readonly string[] = TOP_LEVEL): string[] {
  const pattern = new RegExp(`\`(?:lambdas/)?((?:${topLevel.join('|')})/[^\`\\s]*)\``, 'g');
  return [...doc.matchAll(pattern)].map(
    (match) => `lambdas/${(match[1] as string).replace(/[<*{].*$/, '').replace(/\/$/, '')}`,
  );
}

describe('docs/ARCHITECTURE.md', () => {
  it('maps every folder and file directly under lambdas/', () => {
    const mapped = mappedTopLevel(DOC);
    const present = readdirSync(path.join(ROOT, 'lambdas'));
    expect(present.filter((name) => !mapped.has(name))).toEqual([]);
  });

  it('names only lambdas/ paths that exist', () => {
    const named = namedLambdaPaths(DOC);
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((named) => !existsSync(path.join(ROOT, named)))).toEqual([]);
  });

  it('has guides that name only lambdas/ paths that exist', () => {
    const guides = path.join(ROOT, 'docs/guides');
    const missing = readdirSync(guides).flatMap((guide) =>
      namedLambdaPaths(readFileSync(path.join(guides, guide), 'utf8'))
        .filter((named) => !existsSync(path.join(ROOT, named)))
        .map((named) => `${named} (docs/guides/${guide})`),
    );
    expect(missing).toEqual([]);
  });

  it('reads the map and the named paths the way the checks above rely on', () => {
    const doc = [
      '```',
      'lambdas/',
      '  core/                      the domain',
      '    ports/                   contracts',
      '  group-commit.ts mutex.ts   two files',
      '```',
      'See `lambdas/core/ports/store.ts`, `engines/rotation/<type>/`, `lambdas/` and `test/unit/`.',
    ].join('\n');
    expect([...mappedTopLevel(doc)]).toEqual(['core', 'group-commit.ts', 'mutex.ts']);
    expect(namedLambdaPaths(doc, ['core', 'engines'])).toEqual([
      'lambdas/core/ports/store.ts',
      'lambdas/engines/rotation',
    ]);
  });
});
