import { execFileSync } from 'node:child_process';
import * as http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import * as declined from '../../../lambdas/entrypoints/lambda/declined-credential-providers.ts';
import noBrowserUserAgent from '../../../lambdas/entrypoints/lambda/no-browser-user-agent.ts';
import httpByRequire, * as httpNames from '../../../lambdas/entrypoints/lambda/node-http-by-require.ts';
import {
  BROKER_ENTRY,
  brokerBundlingOptions,
  brokerEsbuildOptions,
  brokerSplitEsbuildOptions,
  DECLINED_CREDENTIAL_PROVIDERS,
  HTTP_BY_REQUIRE_MODULE,
  NO_BROWSER_USER_AGENT_MODULE,
  REPO_ROOT,
  SPLIT_BUNDLE_SCRIPT,
} from '../../../lib/broker-bundling.ts';

/**
 * The input files a cold start evaluates: those reached from the entry through static imports and `require` calls.
 * A module reached only through `import()` is bundled too, but esbuild wraps it in a function that runs at the first
 * `import()`, so it costs nothing until then.
 */
function eagerInputs(metafile: Metafile, entry: string): Set<string> {
  const seen = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const imported of metafile.inputs[file]?.imports ?? []) {
      if (imported.external || imported.kind === 'dynamic-import') continue;
      pending.push(imported.path);
    }
  }
  return seen;
}

const inPackage = (name: string) => (file: string) => file.includes(`node_modules/${name}/`);

/**
 * Engines most requests never reach, each loaded at its first use through a memoised `import()` (issue 15): a GET
 * of a secret must not pay for them. Each entry: the package, and the module whose `import()` brings it.
 */
const LAZY_PACKAGES: readonly (readonly [string, string])[] = [
  ['@peculiar/x509', 'lambdas/engines/pki/pki-service.ts'],
  ['@peculiar/asn1-schema', 'lambdas/engines/pki/pki-service.ts'],
  ['@peculiar/asn1-x509', 'lambdas/engines/pki/pki-service.ts'],
  ['asn1js', 'lambdas/engines/pki/pki-service.ts'],
  ['tsyringe', 'lambdas/engines/pki/pki-service.ts'],
  ['reflect-metadata', 'lambdas/engines/pki/pki-service.ts'],
  ['pg', 'lambdas/engines/shared/postgres/postgres-sessions.ts'],
  ['pg-pool', 'lambdas/engines/shared/postgres/postgres-sessions.ts'],
  ['pg-protocol', 'lambdas/engines/shared/postgres/postgres-sessions.ts'],
  ['jose', 'lambdas/core/auth/jwt/jwt-verifier-loader.ts'],
  ['sshpk', 'lambdas/engines/ssh/ssh-service.ts'],
];

describe('the broker Lambda bundle (issue 15: cold import)', () => {
  let metafile: Metafile;
  let entry: string;
  let bundled: string[];

  let code: string;

  beforeAll(async () => {
    const result = await build({
      ...brokerEsbuildOptions(path.join(os.tmpdir(), 'coffer-broker-graph', 'index.mjs')),
      absWorkingDir: REPO_ROOT,
      metafile: true,
      write: false,
      logLevel: 'silent',
    });
    metafile = result.metafile;
    entry = path.relative(REPO_ROOT, BROKER_ENTRY);
    const [output] = Object.values(metafile.outputs).filter((out) => out.entryPoint !== undefined);
    bundled = Object.keys(output!.inputs);
    code = result.outputFiles!.find((file) => file.path.endsWith('.mjs'))!.text;
  }, 60_000);

  it('splits as deployed: what a cold start loads (index.mjs and the chunks it imports) holds none of the lazy engines', async () => {
    const split = await build({
      ...brokerSplitEsbuildOptions(BROKER_ENTRY, path.join(os.tmpdir(), 'coffer-broker-split')),
      absWorkingDir: REPO_ROOT,
      metafile: true,
      write: false,
      logLevel: 'silent',
    });
    const outputs = split.metafile.outputs;
    const index = Object.keys(outputs).find((file) => file.endsWith('/index.mjs'))!;
    const loaded = new Set<string>();
    const pending = [index];
    while (pending.length > 0) {
      const file = pending.pop()!;
      if (loaded.has(file)) continue;
      loaded.add(file);
      for (const imported of outputs[file]!.imports) {
        if (!imported.external && imported.kind === 'import-statement') pending.push(imported.path);
      }
    }
    const chunks = Object.keys(outputs).filter((file) => file.endsWith('.mjs') && !loaded.has(file));
    expect(chunks.length).toBeGreaterThan(0);
    const inputsLoaded = [...loaded].flatMap((file) => Object.keys(outputs[file]!.inputs));
    for (const [name] of LAZY_PACKAGES) expect(inputsLoaded.filter(inPackage(name)), name).toEqual([]);
    expect(inputsLoaded.filter(inPackage('ldapts'))).toEqual([]);
    expect(inputsLoaded).toContain('lambdas/engines/pki/pki-service.ts');
  });

  it('has CDK split every function as the benchmark does: its afterBundling hook rebuilds the entry into chunks', () => {
    const entry = path.join(REPO_ROOT, 'lambdas/entrypoints/lambda/rotation-handler.ts');
    const outdir = "/out/asset.1'2";
    const [command] = brokerBundlingOptions(entry).commandHooks!.afterBundling('/in', outdir);
    const words = [
      process.execPath,
      SPLIT_BUNDLE_SCRIPT,
      outdir,
      JSON.stringify(brokerSplitEsbuildOptions(entry, outdir)),
    ];
    expect(command).toBe(words.map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(' '));
    // What bash hands the script: the options survive quoting (the banner holds single quotes).
    const argv = execFileSync('bash', ['-c', `printf '%s\\0' ${command!.split(' ').slice(2).join(' ')}`])
      .toString()
      .split('\0');
    expect(JSON.parse(argv[1]!)).toEqual(JSON.parse(JSON.stringify(brokerSplitEsbuildOptions(entry, outdir))));
    expect(argv[0]).toBe(outdir);
  });

  it("leaves out zod's locales and keeps only the English messages (zod is imported as a namespace)", () => {
    // `locales/index.js`, the namespace's list of locales, has been kept (17 bytes) since the engines moved behind
    // `import()`; the locales it names are still left out, which is what this checks.
    const locales = bundled.filter(
      (file) => file.includes('node_modules/zod/') && file.includes('/locales/') && !file.endsWith('/index.js'),
    );
    expect(locales.map((file) => path.basename(file))).toEqual(['en.js']);
  });

  it('loads the LDAP client at the first LDAP login, not at cold start', () => {
    expect(bundled.some(inPackage('ldapts'))).toBe(true);
    const eager = [...eagerInputs(metafile, entry)];
    expect(eager).toContain('lambdas/adapters/ldap/ldapts-directory.ts');
    expect(eager.filter(inPackage('ldapts'))).toEqual([]);
  });

  it.each(LAZY_PACKAGES)('loads %s at first use (through %s), not at cold start', (name, loader) => {
    expect(bundled.some(inPackage(name)), `${name} is bundled`).toBe(true);
    const eager = eagerInputs(metafile, entry);
    expect([...eager].filter(inPackage(name))).toEqual([]);
    expect(eager.has(loader), `${loader} is evaluated at cold start`).toBe(true);
    expect(metafile.inputs[loader]!.imports.some((imported) => imported.kind === 'dynamic-import')).toBe(true);
  });

  it('evaluates at cold start none of the modules that load the lazy engines, only their light entry points', () => {
    const eager = new Set(eagerInputs(metafile, entry));
    for (const entryPoint of [
      'lambdas/engines/pki/pki-service.ts',
      'lambdas/core/auth/cert/cert-method.ts',
      'lambdas/engines/rotation/certificate/certificate-rotator.ts',
      'lambdas/engines/shared/postgres/postgres-sessions.ts',
      'lambdas/core/auth/jwt/jwt-verifier-loader.ts',
      'lambdas/engines/ssh/ssh-service.ts',
    ]) {
      expect(eager.has(entryPoint), entryPoint).toBe(true);
    }
    for (const loaded of [
      'lambdas/engines/pki/pki-engine.ts',
      'lambdas/core/auth/cert/cert-verify.ts',
      'lambdas/engines/rotation/certificate/certificate-parts.ts',
      'lambdas/core/auth/jwt/jwt-verifier.ts',
      'lambdas/core/auth/jwt/jwt-keys.ts',
      'lambdas/engines/ssh/ssh-certificates.ts',
    ]) {
      expect(eager.has(loaded), loaded).toBe(false);
      expect(bundled).toContain(loaded);
    }
  });

  it('loads node:http through require, never as an ES module (whose view of it loads undici, ~30 ms)', () => {
    expect(code).not.toMatch(/\bfrom\s*["'](node:)?http["']/);
    expect(code).not.toMatch(/\bimport\s*\(\s*["'](node:)?http["']\s*\)/);
    expect(bundled).toContain('lambdas/entrypoints/lambda/node-http-by-require.ts');
  });

  it("bundles no bowser (the SDK's browser user-agent parser, never called in Node)", () => {
    // Its importer is dead code in one file, but a split build still makes a chunk of every `import()` target.
    const inputs = Object.keys(metafile.inputs);
    expect(inputs.filter(inPackage('bowser'))).toEqual([]);
    expect(inputs).toContain('lambdas/entrypoints/lambda/no-browser-user-agent.ts');
  });

  it("bundles no SSO, shared-config, process or web-identity credential provider, nor the SDK's nested clients", () => {
    for (const name of [...DECLINED_CREDENTIAL_PROVIDERS, '@aws-sdk/nested-clients', '@aws-sdk/token-providers']) {
      expect(bundled.filter(inPackage(name)), name).toEqual([]);
    }
    expect(bundled).toContain('lambdas/entrypoints/lambda/declined-credential-providers.ts');
    // The environment provider, the one a Lambda function uses, stays.
    expect(bundled.some(inPackage('@aws-sdk/credential-provider-env'))).toBe(true);
  });

  it('gives CDK the same aliases as the benchmark, so both bundle alike', () => {
    const args = brokerBundlingOptions().esbuildArgs?.['--alias'];
    expect(args).toEqual([
      ...DECLINED_CREDENTIAL_PROVIDERS.map(
        (name) => `${name}=${path.join(REPO_ROOT, 'lambdas/entrypoints/lambda/declined-credential-providers.ts')}`,
      ),
      `node:http=${HTTP_BY_REQUIRE_MODULE}`,
      `http=${HTTP_BY_REQUIRE_MODULE}`,
      `bowser=${NO_BROWSER_USER_AGENT_MODULE}`,
    ]);
  });
});

describe('Module: declined-credential-providers', () => {
  it.each(Object.entries(declined))(
    '%s declines, so the default chain goes on to its next link',
    async (_, provider) => {
      await expect(provider()()).rejects.toMatchObject({ name: 'CredentialsProviderError', tryNextLink: true });
    },
  );
});

describe('Module: node-http-by-require', () => {
  it("is Node's own node:http, with the names the bundled code imports from it", () => {
    expect(httpByRequire.request).toBe(http.request);
    expect(httpNames.request).toBe(http.request);
    expect(httpNames.Agent).toBe(http.Agent);
  });
});

describe('Module: no-browser-user-agent', () => {
  it('parses nothing, so the SDK writes its user agent without browser details, as it does in Node anyway', () => {
    expect(noBrowserUserAgent.parse('Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0')).toBeUndefined();
  });
});
