import path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../../..');

/** Every package an entry reaches, statically or through `import()`, bundled as the build bundles it. */
async function packagesOf(entry: string): Promise<{ static: Set<string>; dynamic: Set<string> }> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { main: entry },
    outdir: path.join(ROOT, 'dist-client-node-loading-test'),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    packages: 'external',
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  const found = { static: new Set<string>(), dynamic: new Set<string>() };
  for (const output of Object.values((result.metafile as Metafile).outputs)) {
    for (const imported of output.imports) {
      if (!imported.external) continue;
      (imported.kind === 'dynamic-import' ? found.dynamic : found.static).add(imported.path);
    }
  }
  return found;
}

/**
 * `@kubernetes/client-node` is large (seconds to load on a small machine): only the local server's TokenReview client
 * loads it, with `import()`, on its first review. The broker Lambda never carries it (TokenReview answers a 400
 * there), and the CLI loads it only as the local server (`coffer server`).
 */
describe('Loading @kubernetes/client-node', () => {
  it('is a dynamic import of the local server, never a static one', async () => {
    const local = await packagesOf('lambdas/entrypoints/local/compose.ts');
    expect(local.dynamic).toContain('@kubernetes/client-node');
    expect(local.static).not.toContain('@kubernetes/client-node');
  });

  it('is not reachable from the broker Lambda at all', async () => {
    const { static: eager, dynamic } = await packagesOf('lambdas/entrypoints/lambda/handler.ts');
    expect([...eager, ...dynamic].filter((name) => name.startsWith('@kubernetes/'))).toEqual([]);
  });

  it('is no start-up import of the CLI (only `coffer server` reaches it, through the local server)', async () => {
    const cli = await packagesOf('lambdas/entrypoints/cli/main.ts');
    expect(cli.static).not.toContain('@kubernetes/client-node');
  });
});
