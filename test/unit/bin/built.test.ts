import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILD_STAMP, builtEntry, StaleBuildError } from '../../../bin/built.mjs';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A checkout with one source file and, optionally, a build of the CLI stamped at `builtAt`. */
function checkout(options: { sourceAt: Date; builtAt?: Date }): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'coffer-built-'));
  roots.push(root);
  const source = path.join(root, 'lambdas/sdk/index.ts');
  mkdirSync(path.dirname(source), { recursive: true });
  writeFileSync(source, 'export {};\n');
  utimesSync(source, options.sourceAt, options.sourceAt);
  if (options.builtAt !== undefined) {
    mkdirSync(path.join(root, 'dist'));
    writeFileSync(path.join(root, 'dist/cli.mjs'), 'export {};\n');
    writeFileSync(path.join(root, 'dist', BUILD_STAMP), `${options.builtAt.toISOString()}\n`);
  }
  return root;
}

describe('Function: builtEntry', () => {
  it('answers the compiled entry when it was built after the last source change', () => {
    const root = checkout({ sourceAt: new Date('2026-01-01T00:00:00Z'), builtAt: new Date('2026-01-02T00:00:00Z') });
    expect(builtEntry('cli', root)).toMatch(/\/dist\/cli\.mjs$/);
  });

  it('asks for a build when dist/ has no such entry', () => {
    const root = checkout({ sourceAt: new Date('2026-01-01T00:00:00Z') });
    expect(() => builtEntry('cli', root)).toThrow(StaleBuildError);
    expect(() => builtEntry('cli', root)).toThrow('dist/cli.mjs is not built: run npm run build');
  });

  it('asks for a build when a source changed after the build started', () => {
    const root = checkout({ sourceAt: new Date('2026-01-03T00:00:00Z'), builtAt: new Date('2026-01-02T00:00:00Z') });
    expect(() => builtEntry('cli', root)).toThrow(
      'the TypeScript sources changed since dist/ was built: run npm run build',
    );
  });

  it.each(['lambdas/console/app.tsx', 'lambdas/console/styles.css', 'lambdas/console/index.html'])(
    'asks for a build when a web console source (%s) changed after it',
    (file) => {
      const root = checkout({ sourceAt: new Date('2026-01-01T00:00:00Z'), builtAt: new Date('2026-01-02T00:00:00Z') });
      const source = path.join(root, file);
      mkdirSync(path.dirname(source), { recursive: true });
      writeFileSync(source, '\n');
      utimesSync(source, new Date('2026-01-03T00:00:00Z'), new Date('2026-01-03T00:00:00Z'));
      expect(() => builtEntry('cli', root)).toThrow(StaleBuildError);
    },
  );
});
