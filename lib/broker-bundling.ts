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
  /** Module -> replacement (see {@link DECLINED_CREDENTIAL_PROVIDERS} and {@link HTTP_BY_REQUIRE_MODULE}). */
  alias: {
    ...Object.fromEntries(DECLINED_CREDENTIAL_PROVIDERS.map((name) => [name, DECLINED_PROVIDERS_MODULE])),
    'node:http': HTTP_BY_REQUIRE_MODULE,
    http: HTTP_BY_REQUIRE_MODULE,
  } as Readonly<Record<string, string>>,
} as const;

/**
 * Bundling options for the broker's `NodejsFunction`: local esbuild (no Docker), output as {@link BROKER_BUNDLE}.
 *
 * @example
 * new NodejsFunction(this, 'Broker', { entry: BROKER_ENTRY, bundling: brokerBundlingOptions() });
 */
export function brokerBundlingOptions(): lambdaNodejs.BundlingOptions {
  return {
    forceDockerBundling: false,
    target: BROKER_BUNDLE.target,
    format: OutputFormat.ESM,
    minify: BROKER_BUNDLE.minify,
    keepNames: BROKER_BUNDLE.keepNames,
    sourceMap: BROKER_BUNDLE.sourcemap,
    sourceMapMode: SourceMapMode.EXTERNAL,
    sourcesContent: BROKER_BUNDLE.sourcesContent,
    mainFields: [...BROKER_BUNDLE.mainFields],
    banner: BROKER_BUNDLE.banner,
    externalModules: [...BROKER_BUNDLE.external],
    esbuildArgs: { '--alias': Object.entries(BROKER_BUNDLE.alias).map(([name, target]) => `${name}=${target}`) },
  };
}

/**
 * The same bundle as esbuild `build()` options, for measuring it outside CDK.
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
