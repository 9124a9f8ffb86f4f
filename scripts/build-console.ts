// The web console (`lambdas/console/`) for browsers: one hashed script and one hashed stylesheet under
// `<out>/assets/`, the page that names them (`index.html`), and `config.json` (empty: the API is on the page's own
// origin; the AWS deployment writes the API's URL there). Called by `scripts/build.ts`, so `npm ci` and `npm start`
// build it too.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

export const CONSOLE_SOURCE = 'lambdas/console';

/** Builds the console into `outDir`, writing each file with `write` (atomic renames), and drops stale assets. */
export async function buildConsole(
  root: string,
  outDir: string,
  write: (file: string, contents: Uint8Array) => void,
): Promise<number> {
  const source = path.join(root, CONSOLE_SOURCE);
  const assets = path.join(outDir, 'assets');
  const result = await build({
    absWorkingDir: root,
    entryPoints: { app: path.join(source, 'main.tsx'), styles: path.join(source, 'styles.css') },
    outdir: assets,
    entryNames: '[name]-[hash]',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    tsconfig: path.join(source, 'tsconfig.json'),
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    // No source maps: they would be served beside the console and map nothing a user needs.
    sourcemap: false,
    legalComments: 'none',
    metafile: true,
    write: false,
    logLevel: 'warning',
  });
  const built: Record<string, { name: string; integrity: string }> = {};
  for (const file of result.outputFiles) {
    write(file.path, file.contents);
    // Subresource integrity: a script or stylesheet changed where it is stored (a bucket, a cache) is not run.
    const integrity = `sha384-${createHash('sha384').update(file.contents).digest('base64')}`;
    built[path.extname(file.path)] = { name: path.basename(file.path), integrity };
  }
  const script = built['.js'];
  const style = built['.css'];
  if (script === undefined || style === undefined) throw new Error('the console build wrote no script or stylesheet');
  const page = readFileSync(path.join(source, 'index.html'), 'utf8')
    .replace('%SCRIPT_INTEGRITY%', script.integrity)
    .replace('%SCRIPT%', script.name)
    .replace('%STYLE_INTEGRITY%', style.integrity)
    .replace('%STYLE%', style.name);
  write(path.join(outDir, 'index.html'), Buffer.from(page));
  write(path.join(outDir, 'config.json'), Buffer.from('{}\n'));
  const written = new Set(result.outputFiles.map((file) => path.basename(file.path)));
  for (const name of readdirSync(assets)) if (!written.has(name)) rmSync(path.join(assets, name), { force: true });
  return result.outputFiles.reduce((sum, file) => sum + file.contents.length, page.length);
}
