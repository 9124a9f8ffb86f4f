// `npm run build`: compiles what runs outside Lambda (the CLI with the local server and the agent, the extension) and
// the package's exports to `dist/`, so nothing compiles TypeScript at run time. Lambda bundles are CDK's business
// (`lib/broker-bundling.ts`).
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { BUILD_STAMP, BUILT_ENTRIES, DIST_DIR } from '../bin/built.mjs';
import { ESM_REQUIRE_BANNER, REPO_ROOT } from '../lib/broker-bundling.ts';
import { buildConsole } from './build-console.ts';

/**
 * Writes every output file under a temporary name and renames it into place: a CLI started while a build runs (tests
 * in parallel, a second terminal) reads the old file or the new one, never half of one.
 */
function writeAtomically(file: string, contents: Uint8Array): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, file);
}

const started = new Date();
const result = await build({
  absWorkingDir: REPO_ROOT,
  entryPoints: Object.fromEntries(Object.entries(BUILT_ENTRIES).map(([name, entry]) => [name, entry.source])),
  outdir: DIST_DIR,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  // One copy of each module shared by the entries: the SDK's error classes are the same for `coffer/sdk` and
  // `coffer/middy`, so `instanceof` holds across them. Chunks sit beside the entries, at the depth `lib/` code
  // expects of `import.meta.url` (REPO_ROOT is its parent).
  splitting: true,
  chunkNames: '[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node22',
  // Dependencies stay in node_modules, resolved at run time: native addons (better-sqlite3) cannot be bundled, and
  // a package's consumers dedupe the SDK and zod with their own copies.
  packages: 'external',
  sourcemap: true,
  // Bundled CommonJS helpers may call `require` for built-ins, which ESM lacks.
  banner: { js: ESM_REQUIRE_BANNER },
  // Error names are matched on (`isCofferError`, Step Functions' Retry): keep them through any renaming.
  keepNames: true,
  write: false,
  logLevel: 'warning',
});

const outputs = new Set(result.outputFiles.map((file) => file.path));
for (const file of result.outputFiles) writeAtomically(file.path, file.contents);
// Chunks of earlier builds have other hashes: drop what this build did not write.
for (const name of readdirSync(DIST_DIR)) {
  const file = path.join(DIST_DIR, name);
  if (/\.mjs(\.map)?$/.test(name) && !outputs.has(file)) rmSync(file, { force: true });
}
const consoleBytes = await buildConsole(REPO_ROOT, path.join(DIST_DIR, 'console'), writeAtomically);
// The stamp holds the build's start: a source saved while it ran is newer, so the CLI asks for another build.
writeAtomically(path.join(DIST_DIR, BUILD_STAMP), Buffer.from(`${started.toISOString()}\n`));
const size = result.outputFiles.reduce((sum, file) => sum + file.contents.length, 0);
console.log(`built ${Object.keys(BUILT_ENTRIES).length} entries to dist/ (${Math.round(size / 1024)} KB)`);
console.log(`built the web console to dist/console/ (${Math.round(consoleBytes / 1024)} KB)`);
