// Where the compiled entries live, and the check that they are there and not older than the sources. Plain JavaScript:
// it runs before anything is compiled.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = path.resolve(import.meta.dirname, '..');
export const DIST_DIR = path.join(ROOT, 'dist');
/** Written by `npm run build` last, holding the time the build started. */
export const BUILD_STAMP = '.build-stamp';
/** The TypeScript trees the entries are compiled from. */
const SOURCE_DIRS = ['lambdas', 'lib'];
/** What the entries and the web console (`.tsx`, `.css`, `.html`) are compiled from. */
const SOURCE_EXTENSIONS = ['.ts', '.tsx', '.json', '.css', '.html'];

/** Each compiled entry (`dist/<name>.mjs`) and its source module. */
export const BUILT_ENTRIES = {
  cli: { source: 'lambdas/entrypoints/cli/main.ts' },
  'extension-main': { source: 'lambdas/extension/main.ts' },
  sdk: { source: 'lambdas/sdk/index.ts' },
  middy: { source: 'lambdas/sdk/middy.ts' },
  extension: { source: 'lambdas/extension/index.ts' },
  cdk: { source: 'lib/index.ts' },
};

/** A compiled entry that is missing, or older than a source it is compiled from. */
export class StaleBuildError extends Error {
  constructor(message) {
    super(`${message}: run npm run build`);
    this.name = 'StaleBuildError';
  }
}

/** The newest source file's modification time (ms), or 0 where there are no sources (an installed package). */
function newestSource(root) {
  let newest = 0;
  for (const dir of SOURCE_DIRS) {
    const base = path.join(root, dir);
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base, { recursive: true })) {
      if (!SOURCE_EXTENSIONS.some((extension) => name.endsWith(extension))) continue;
      newest = Math.max(newest, statSync(path.join(base, name)).mtimeMs);
    }
  }
  return newest;
}

/**
 * The URL of a compiled entry, once it is known to match the sources.
 * @param {keyof typeof BUILT_ENTRIES} name
 * @param {string} [root] the checkout (tests point it elsewhere)
 * @returns {string}
 * @throws {StaleBuildError} when `dist/` lacks the entry or a source changed after the build started
 */
export function builtEntry(name, root = ROOT) {
  const dist = path.join(root, 'dist');
  const file = path.join(dist, `${name}.mjs`);
  const stamp = path.join(dist, BUILD_STAMP);
  if (!existsSync(file) || !existsSync(stamp)) throw new StaleBuildError(`${path.relative(root, file)} is not built`);
  const changed = newestSource(root);
  const builtFrom = Date.parse(readFileSync(stamp, 'utf8').trim());
  if (!(changed <= builtFrom)) {
    throw new StaleBuildError('the TypeScript sources changed since dist/ was built');
  }
  return pathToFileURL(file).href;
}
