import { Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as lambdaNodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { brokerBundlingOptions, REPO_ROOT } from './broker-bundling.ts';

/** The Lambda runtime Coffer is built (esbuild target `node22`) and tested for. */
export const COFFER_LAMBDA_RUNTIME = lambda.Runtime.NODEJS_22_X;

/** Configuration of {@link CofferFunction}: a `NodejsFunction`'s, less what every Coffer function shares. */
export interface CofferFunctionProps
  extends Omit<
    lambdaNodejs.NodejsFunctionProps,
    'runtime' | 'architecture' | 'bundling' | 'projectRoot' | 'depsLockFilePath' | 'entry' | 'description'
  > {
  /** The TypeScript module under `lambdas/entrypoints/` exporting the handler. */
  readonly entry: string;
  /** What the function does, e.g. `Coffer (prod): revokes expired leases of dynamic credentials`. */
  readonly description: string;
  /** @default 'handler' */
  readonly handler?: string;
  /** @default JSON: Powertools' structured logs stay queryable in Logs Insights */
  readonly loggingFormat?: lambda.LoggingFormat;
  /**
   * Map stack traces back to the TypeScript sources (`NODE_OPTIONS=--enable-source-maps`). Mapping makes every
   * `Error.stack` slower, which a function on a request path may not want to pay. Without it the function's zip
   * carries no source maps: nothing would read them.
   * @default true
   */
  readonly sourceMapStackTraces?: boolean;
}

/**
 * A Coffer Lambda function: the entry module bundled as the broker is ({@link brokerBundlingOptions}: minified ESM,
 * split into `index.mjs` and chunks loaded at first use, source maps, error names kept), on
 * {@link COFFER_LAMBDA_RUNTIME} and arm64 (cheaper per millisecond; the bundle is plain JavaScript). Memory, timeout,
 * role, log group and settings stay with each function.
 *
 * @example
 * new CofferFunction(this, 'Function', {
 *   description: `Coffer (${name}): revokes expired leases of dynamic credentials`,
 *   entry: path.join(REPO_ROOT, 'lambdas/entrypoints/lambda/lease-sweeper-handler.ts'),
 *   timeout: Duration.seconds(55),
 *   role,
 *   logGroup,
 *   environment: { COFFER_TABLE_NAME: table.tableName },
 * });
 */
export class CofferFunction extends lambdaNodejs.NodejsFunction {
  constructor(scope: Construct, id: string, props: CofferFunctionProps) {
    const { sourceMapStackTraces = true, environment = {}, ...rest } = props;
    super(scope, id, {
      handler: 'handler',
      loggingFormat: lambda.LoggingFormat.JSON,
      ...rest,
      projectRoot: REPO_ROOT,
      depsLockFilePath: `${REPO_ROOT}/package-lock.json`,
      runtime: COFFER_LAMBDA_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      // Maps only where something reads them: Node, when it maps stack traces.
      bundling: brokerBundlingOptions(props.entry, { sourceMaps: sourceMapStackTraces }),
      environment: { ...environment, ...(sourceMapStackTraces && { NODE_OPTIONS: '--enable-source-maps' }) },
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is the runtime Coffer is built and tested for (target node22); a newer one is adopted with a ' +
        'release, not by the linter.',
    });
  }
}
