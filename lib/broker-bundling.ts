import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as lambdaNodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import { OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';

/** The repository root (this file lives in `lib/`). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The broker Lambda's entry module: the same broker as the local server, behind API Gateway's proxy event. */
export const BROKER_ENTRY = path.join(REPO_ROOT, 'lambdas/entrypoints/lambda/handler.ts');

/**
 * The SDK's default credential chain loads these providers with `import()`; a Lambda function never reaches them (its
 * credentials are in its environment, the chain's first link), so every bundle gets
 * `lambdas/entrypoints/lambda/declined-credential-providers.ts` in their place: about 90 KB of minified code (their
 * nested SSO-OIDC, STS and sign-in clients) out of each function's zip.
 */
export const DECLINED_CREDENTIAL_PROVIDERS = [
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-web-identity',
] as const;

const DECLINED_PROVIDERS_MODULE = path.join(REPO_ROOT, 'lambdas/entrypoints/lambda/declined-credential-providers.ts');

/**
 * `node:http` through `require` (`lambdas/entrypoints/lambda/node-http-by-require.ts`): imported as ESM it costs a
 * cold start about 30 ms of CPU, most of it Node loading its fetch implementation for the module's ESM view.
 */
export const HTTP_BY_REQUIRE_MODULE = path.join(REPO_ROOT, 'lambdas/entrypoints/lambda/node-http-by-require.ts');

/** `bowser` parses browsers' user agents; the SDK loads it, Node never calls it (`no-browser-user-agent.ts`). */
export const NO_BROWSER_USER_AGENT_MODULE = path.join(REPO_ROOT, 'lambdas/entrypoints/lambda/no-browser-user-agent.ts');

/**
 * The bundle is ESM (the handler composes with top-level await), but some bundled CommonJS code still calls
 * `require` for Node built-ins, which ESM lacks: give it one.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __cofferCreateRequire } from 'node:module'; const require = __cofferCreateRequire(import.meta.url);";

/**
 * The one description of how the broker is bundled; the CDK function ({@link brokerBundlingOptions}) and the bundle
 * benchmark ({@link brokerEsbuildOptions}) both derive from it, so the benchmark measures what is deployed.
 *
 * The AWS SDK v3 is bundled, not left external to the runtime's copy: tree-shaken and minified, the clients the
 * broker uses add a few hundred KB to the zip, while the runtime's SDK lags behind ours (the audit sink relies on
 * `IfNoneMatch` on PutObject), and one pre-linked file starts faster than resolving hundreds of runtime modules.
 */
export const BROKER_BUNDLE = {
  target: 'node22',
  format: 'esm',
  platform: 'node',
  minify: true,
  /**
   * Keep class and function names through minification: error names are what Step Functions' Retry/Catch match and
   * what the failure events and Lambda's errorType report (`ConflictError`, not a two-letter alias).
   */
  keepNames: true,
  /** External source maps without the sources: stack traces map back to `.ts` lines without doubling the zip. */
  sourcemap: true,
  sourcesContent: false,
  /** Prefer the ESM builds of dependencies: they tree-shake, the CommonJS ones mostly do not. */
  mainFields: ['module', 'main'],
  banner: ESM_REQUIRE_BANNER,
  /** Nothing is external: the SDK included (see above). */
  external: [] as string[],
  /**
   * Module -> replacement (see {@link DECLINED_CREDENTIAL_PROVIDERS}, {@link HTTP_BY_REQUIRE_MODULE} and
   * {@link NO_BROWSER_USER_AGENT_MODULE}).
   */
  alias: {
    ...Object.fromEntries(DECLINED_CREDENTIAL_PROVIDERS.map((name) => [name, DECLINED_PROVIDERS_MODULE])),
    'node:http': HTTP_BY_REQUIRE_MODULE,
    http: HTTP_BY_REQUIRE_MODULE,
    bowser: NO_BROWSER_USER_AGENT_MODULE,
  } as Readonly<Record<string, string>>,
} as const;

/**
 * Code splitting: the modules a function loads only through `import()` (the PKI engine and its ASN.1 stack, `pg`,
 * `ldapts`, jose) go to chunk files beside `index.mjs`, which imports statically only the chunks it shares with
 * them. In one file V8 still scanned them at every cold start; about 14% of the broker's import CPU
 * (docs/BENCHMARKS.md, issue 15).
 */
export const SPLIT_OUTPUT = {
  splitting: true,
  entryNames: 'index',
  chunkNames: 'chunk-[hash]',
  /** ESM in `.mjs` files: Lambda's Node needs no `package.json` to know. */
  outExtension: { '.js': '.mjs' },
} as const;

/** Rebuilds a function's bundle with {@link SPLIT_OUTPUT} in CDK's asset directory (`afterBundling`). */
export const SPLIT_BUNDLE_SCRIPT = path.join(REPO_ROOT, 'scripts/split-bundle.mjs');

/** One word for `bash -c`. */
function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * Bundling options for a Coffer `NodejsFunction`: local esbuild (no Docker), output as {@link BROKER_BUNDLE}, then
 * split ({@link SPLIT_OUTPUT}). `NodejsFunction` bundles into one `--outfile`, which esbuild cannot split, so its
 * `afterBundling` hook rebuilds `entry` with the same options, as JSON to `scripts/split-bundle.mjs`, into chunks in
 * the asset directory (the asset hash is taken from that output).
 *
 * @example
 * new NodejsFunction(this, 'Broker', { entry: BROKER_ENTRY, bundling: brokerBundlingOptions(BROKER_ENTRY) });
 */
export function brokerBundlingOptions(
  entry: string = BROKER_ENTRY,
  bundle: FunctionBundle = {},
): lambdaNodejs.BundlingOptions {
  const sourceMaps = bundle.sourceMaps ?? BROKER_BUNDLE.sourcemap;
  return {
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (_inputDir, outputDir) => [
        [
          process.execPath,
          SPLIT_BUNDLE_SCRIPT,
          outputDir,
          JSON.stringify(brokerSplitEsbuildOptions(entry, outputDir, { sourceMaps })),
        ]
          .map(shellQuote)
          .join(' '),
      ],
    },
    forceDockerBundling: false,
    target: BROKER_BUNDLE.target,
    format: OutputFormat.ESM,
    minify: BROKER_BUNDLE.minify,
    keepNames: BROKER_BUNDLE.keepNames,
    sourceMap: sourceMaps,
    ...(sourceMaps && { sourceMapMode: SourceMapMode.EXTERNAL }),
    sourcesContent: BROKER_BUNDLE.sourcesContent,
    mainFields: [...BROKER_BUNDLE.mainFields],
    banner: BROKER_BUNDLE.banner,
    externalModules: [...BROKER_BUNDLE.external],
    esbuildArgs: { '--alias': Object.entries(BROKER_BUNDLE.alias).map(([name, target]) => `${name}=${target}`) },
  };
}

/**
 * The bundle as esbuild `build()` options, in one file: what `NodejsFunction` builds first, and what the module-graph
 * test reads (one file's metafile names every input a cold start evaluates).
 *
 * @example
 * await esbuild.build(brokerEsbuildOptions('/tmp/out/index.mjs'));
 */
export function brokerEsbuildOptions(outfile: string): BuildOptions {
  return {
    entryPoints: [BROKER_ENTRY],
    outfile,
    bundle: true,
    target: BROKER_BUNDLE.target,
    format: BROKER_BUNDLE.format,
    platform: BROKER_BUNDLE.platform,
    minify: BROKER_BUNDLE.minify,
    keepNames: BROKER_BUNDLE.keepNames,
    sourcemap: BROKER_BUNDLE.sourcemap,
    sourcesContent: BROKER_BUNDLE.sourcesContent,
    mainFields: [...BROKER_BUNDLE.mainFields],
    banner: { js: BROKER_BUNDLE.banner },
    external: [...BROKER_BUNDLE.external],
    alias: { ...BROKER_BUNDLE.alias },
    logLevel: 'warning',
  };
}

/**
 * The bundle as deployed: {@link brokerEsbuildOptions} split into `index.mjs` and its chunks in `outdir`.
 *
 * @example
 * await esbuild.build(brokerSplitEsbuildOptions(BROKER_ENTRY, '/tmp/out'));
 */
export function brokerSplitEsbuildOptions(entry: string, outdir: string, bundle: FunctionBundle = {}): BuildOptions {
  const { outfile: _single, ...options } = brokerEsbuildOptions(path.join(outdir, 'index.mjs'));
  return {
    ...options,
    sourcemap: bundle.sourceMaps ?? BROKER_BUNDLE.sourcemap,
    entryPoints: [entry],
    outdir,
    ...SPLIT_OUTPUT,
    outExtension: { ...SPLIT_OUTPUT.outExtension },
  };
}

/** What differs between the functions' bundles. */
export interface FunctionBundle {
  /**
   * Ship external source maps beside the code. A function that does not map its stack traces at run time (the broker:
   * `sourceMapStackTraces: false`) reads them never, and they were more than half its zip (568 KB of 1,010 KB).
   * @default true
   */
  readonly sourceMaps?: boolean;
}
