import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * What a consumer gets from each subpath: the named exports of the compiled module, read by a plain Node process that
 * imports the package by its name (Node resolves a package's own name through its `exports`), so neither the test
 * runner's resolver nor the TypeScript sources stand in for `dist/`.
 */
async function exportsOf(specifiers: readonly string[]): Promise<Record<string, string[]>> {
  return JSON.parse(
    await runModule(`
      const names = {};
      for (const specifier of ${JSON.stringify(specifiers)}) names[specifier] = Object.keys(await import(specifier)).sort();
      process.stdout.write(JSON.stringify(names));
    `),
  );
}

async function runModule(script: string): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
  return stdout;
}

describe('Package: coffer exports', () => {
  it('publishes the SDK, the middy middleware, the extension and the CDK constructs from dist/', async () => {
    const names = await exportsOf(['coffer/sdk', 'coffer/middy', 'coffer/extension', 'coffer/cdk']);
    expect(names['coffer/sdk']).toEqual(
      expect.arrayContaining(['CofferClient', 'CofferClientError', 'CofferNotFoundError', 'SecretCache']),
    );
    expect(names['coffer/middy']).toEqual(['cofferSecrets']);
    expect(names['coffer/extension']).toEqual(
      expect.arrayContaining(['runExtension', 'startSecretsCache', 'parseExtensionConfig', 'TOKEN_HEADER']),
    );
    expect(names['coffer/cdk']).toEqual(
      expect.arrayContaining(['CofferStack', 'CofferControlPlane', 'CofferExtensionLayer', 'CofferFunction']),
    );
  });

  it('points every subpath at compiled JavaScript and its types, and exposes package.json', async () => {
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      if (subpath === './package.json') continue;
      expect((target as { default: string }).default, subpath).toMatch(/^\.\/dist\/[a-z-]+\.mjs$/);
      expect((target as { types: string }).types, subpath).toMatch(/\.ts$/);
    }
    expect(await runModule("process.stdout.write(import.meta.resolve('coffer/package.json'))")).toBe(
      pathToFileURL(path.join(ROOT, 'package.json')).href,
    );
  });
});
