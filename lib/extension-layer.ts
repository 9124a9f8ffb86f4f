import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { AssetHashType, DockerImage, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { type BuildOptions, buildSync } from 'esbuild';
import { ESM_REQUIRE_BANNER, REPO_ROOT } from './broker-bundling.ts';

/** The extension's entry module. */
export const EXTENSION_ENTRY = path.join(REPO_ROOT, 'lambdas/extension/main.ts');
/** The launcher Lambda starts: its file name is the extension's registered name. */
export const EXTENSION_LAUNCHER = path.join(REPO_ROOT, 'lambdas/extension/layer/coffer-extension');

/**
 * The esbuild options of the extension bundle: one ESM file, everything bundled (the runtime's own AWS SDK lives under
 * `/var/runtime`, out of an extension's reach), for Node.js 22, the oldest runtime the layer supports (Node 20 is
 * past its end of life).
 * @example buildSync(extensionEsbuildOptions('/tmp/layer/coffer-extension/index.mjs'));
 */
export function extensionEsbuildOptions(outfile: string): BuildOptions {
  return {
    entryPoints: [EXTENSION_ENTRY],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    minify: true,
    sourcemap: false,
    mainFields: ['module', 'main'],
    banner: { js: ESM_REQUIRE_BANNER },
    external: [],
    logLevel: 'warning',
  };
}

/**
 * Writes the layer's content to `outDir`, laid out as Lambda mounts it under `/opt`:
 *
 * ```
 * extensions/coffer-extension     executable launcher (Lambda starts every file in /opt/extensions)
 * coffer-extension/index.mjs      the bundled extension (lambdas/extension/main.ts)
 * ```
 * @example buildExtensionLayer(fs.mkdtempSync('/tmp/layer-'));
 */
export function buildExtensionLayer(outDir: string): void {
  buildSync(extensionEsbuildOptions(path.join(outDir, 'coffer-extension', 'index.mjs')));
  mkdirSync(path.join(outDir, 'extensions'), { recursive: true });
  const launcher = path.join(outDir, 'extensions', 'coffer-extension');
  copyFileSync(EXTENSION_LAUNCHER, launcher);
  chmodSync(launcher, 0o755);
}

export interface CofferExtensionLayerProps {
  /** @default 'coffer-extension' prefixed by the stack's name (CloudFormation generates it) */
  readonly layerVersionName?: string;
  /** @default RemovalPolicy.RETAIN: functions still pinned to an old version keep working */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The Coffer Lambda extension as a LayerVersion: a drop-in for the AWS Parameters and Secrets Lambda Extension (same
 * port, path, token header and `PARAMETERS_SECRETS_EXTENSION_*` settings) that reads Coffer instead, for Node.js
 * runtimes on either architecture (the bundle is plain JavaScript).
 *
 * A function using it sets `COFFER_ADDR` (see {@link CofferExtensionLayer.environment}); with no `COFFER_TOKEN`, the
 * extension signs its calls with the function's role (SigV4, service `execute-api`), so the role needs
 * `execute-api:Invoke` on Coffer's API.
 *
 * @example
 * const ext = new CofferExtensionLayer(this, 'CofferExtension');
 * new lambda.Function(this, 'Fn', {
 *   runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code,
 *   layers: [ext.layer],
 *   environment: CofferExtensionLayer.environment({ cofferAddr: api.url }),
 * });
 */
export class CofferExtensionLayer extends Construct {
  readonly layer: lambda.LayerVersion;

  constructor(scope: Construct, id: string, props: CofferExtensionLayerProps = {}) {
    super(scope, id);
    this.layer = new lambda.LayerVersion(this, 'Layer', {
      ...(props.layerVersionName === undefined ? {} : { layerVersionName: props.layerVersionName }),
      description: 'Coffer secrets cache: AWS Parameters and Secrets Lambda Extension protocol on port 2773',
      license: 'Apache-2.0',
      compatibleRuntimes: [lambda.Runtime.NODEJS_22_X, lambda.Runtime.NODEJS_24_X],
      compatibleArchitectures: [lambda.Architecture.X86_64, lambda.Architecture.ARM_64],
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      code: lambda.Code.fromAsset(path.join(REPO_ROOT, 'lambdas/extension'), {
        // The asset is the bundle, so its hash must be too: the sources' hash would miss changes in lambdas/sdk.
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          // Only used when local bundling fails; esbuild is a dependency, so it does not.
          image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
          local: {
            tryBundle(outputDir: string): boolean {
              buildExtensionLayer(outputDir);
              return true;
            },
          },
        },
      }),
    });
  }

  /**
   * Environment variables a function using the layer needs.
   * @param options.signingService `execute-api` behind API Gateway (default), `coffer` for a server reached directly
   */
  static environment(options: { cofferAddr: string; signingService?: string }): Record<string, string> {
    return {
      COFFER_ADDR: options.cofferAddr,
      COFFER_SIGNING_SERVICE: options.signingService ?? 'execute-api',
    };
  }
}
