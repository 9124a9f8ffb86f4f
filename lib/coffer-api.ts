import { type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The only route API Gateway serves without IAM authorization: the broker's liveness probe (`sys.health`). */
export const HEALTH_PATH = '/v1/sys/health';

/** Configuration of {@link CofferApi}. */
export interface CofferApiProps {
  readonly deploymentName: string;
  /** The broker function every route proxies to. */
  readonly handler: lambda.IFunction;
  /** @default 'prod' */
  readonly stageName?: string;
  /** Steady-state requests per second across the stage. @default 1000 */
  readonly throttlingRateLimit?: number;
  /** Burst bucket size. @default 2000 */
  readonly throttlingBurstLimit?: number;
  /**
   * Logins (`POST /v1/auth/{mount}/login[/…]`) per second across the stage: the gateway's brute-force ceiling in
   * front of the broker's own quotas and per-user lockout (which count per source, role and user).
   * @default 50
   */
  readonly loginThrottlingRateLimit?: number;
  /** Burst of logins. @default 100 */
  readonly loginThrottlingBurstLimit?: number;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Create the account-wide role API Gateway uses to write execution logs (`AWS::ApiGateway::Account`). Turn it off
   * when the account already has one (it is one setting per account and region).
   * @default true
   */
  readonly cloudWatchRole?: boolean;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The REST API in front of the broker: Lambda proxy integration for `/v1/{proxy+}` (Coffer's native API) and `POST /`
 * (the Secrets Manager-compatible JSON protocol), with `AWS_IAM` authorization on everything except
 * `GET /v1/sys/health`. API Gateway verifies the SigV4 signature and hands the caller's ARN to the broker, which maps
 * it to Coffer policies.
 *
 * Request size: a REST API accepts bodies up to 10 MB and has no smaller setting. The broker refuses bodies over
 * 1 MiB with 413 before parsing them (`DEFAULT_MAX_BODY_BYTES`), and the Lambda invoke payload is capped at 6 MB, so
 * the larger gateway limit costs a little transfer, never memory or a parse.
 */
export class CofferApi extends Construct {
  readonly restApi: apigateway.RestApi;
  readonly accessLogGroup: logs.LogGroup;
  readonly healthMethod: apigateway.Method;

  constructor(scope: Construct, id: string, props: CofferApiProps) {
    super(scope, id);
    const rateLimit = props.throttlingRateLimit ?? 1000;
    const burstLimit = props.throttlingBurstLimit ?? 2000;
    const loginRateLimit = props.loginThrottlingRateLimit ?? 50;
    const loginBurstLimit = props.loginThrottlingBurstLimit ?? 100;
    for (const [rate, burst] of [
      [rateLimit, burstLimit],
      [loginRateLimit, loginBurstLimit],
    ] as const) {
      if (!(rate > 0 && Number.isInteger(burst) && burst > 0)) {
        throw new Error('CofferControlPlane: throttling limits must be positive (burst a whole number)');
      }
    }
    // Never a data trace: a login body is a credential.
    const loginThrottle = {
      throttlingRateLimit: loginRateLimit,
      throttlingBurstLimit: loginBurstLimit,
      dataTraceEnabled: false,
    };

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: props.removalPolicy,
    });

    this.restApi = new apigateway.RestApi(this, 'RestApi', {
      restApiName: `${props.deploymentName}-api`,
      description: `Coffer (${props.deploymentName}): native API under /v1 and the Secrets Manager protocol at POST /`,
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      // The CRL distribution point answers DER; API Gateway passes it as bytes only for listed media types.
      binaryMediaTypes: ['application/pkix-crl'],
      cloudWatchRole: props.cloudWatchRole ?? true,
      cloudWatchRoleRemovalPolicy: props.removalPolicy,
      defaultMethodOptions: { authorizationType: apigateway.AuthorizationType.IAM },
      deployOptions: {
        stageName: props.stageName ?? 'prod',
        throttlingRateLimit: rateLimit,
        throttlingBurstLimit: burstLimit,
        // Method settings override the stage's for the login resources below (`<resource path>/<method>`).
        methodOptions: {
          '/v1/auth/{mount}/login/POST': loginThrottle,
          '/v1/auth/{mount}/login/{proxy+}/*': loginThrottle,
        },
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields({
          caller: true,
          httpMethod: true,
          ip: true,
          protocol: true,
          requestTime: true,
          resourcePath: true,
          responseLength: true,
          status: true,
          user: true,
        }),
        // Errors only, and never request or response bodies (data trace would log secret values).
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
      },
    });

    // The L2 adds an output with a generated name; CofferStack outputs the URL as `ApiUrl`, and an embedding app
    // chooses its own outputs.
    this.restApi.node.tryRemoveChild('Endpoint');

    // Basic validation (required parameters). There is no body schema: the broker validates bodies with zod, and a
    // gateway model would have to duplicate every route's schema.
    const validator = this.restApi.addRequestValidator('RequestValidator', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const integration = new apigateway.LambdaIntegration(props.handler, { proxy: true, allowTestInvoke: false });
    const methodOptions: apigateway.MethodOptions = { requestValidator: validator };

    this.restApi.root.addMethod('POST', integration, methodOptions);
    const v1 = this.restApi.root.addResource('v1');
    v1.addProxy({ anyMethod: false }).addMethod('ANY', integration, methodOptions);
    // API Gateway does not fall back from a literal resource to a sibling proxy, so /v1/sys needs its own.
    const sys = v1.addResource('sys');
    sys.addProxy({ anyMethod: false }).addMethod('ANY', integration, methodOptions);
    // Logins get resources of their own so the stage can throttle them apart (loginThrottlingRateLimit); the rest of
    // a mount's API (roles, secret ids) goes through its proxy as before.
    const mount = v1.addResource('auth').addResource('{mount}');
    mount.addProxy({ anyMethod: false }).addMethod('ANY', integration, methodOptions);
    const login = mount.addResource('login');
    login.addMethod('POST', integration, methodOptions);
    login.addProxy({ anyMethod: false }).addMethod('ANY', integration, methodOptions);
    this.healthMethod = sys.addResource('health').addMethod('GET', integration, {
      ...methodOptions,
      authorizationType: apigateway.AuthorizationType.NONE,
    });

    Validations.of(this.healthMethod).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason: 'The liveness probe answers only status and version, touches no data, and must work for load balancers.',
    });
    Validations.of(this.healthMethod).acknowledge({
      id: 'AwsSolutions-COG4',
      reason: 'The liveness probe is deliberately unauthenticated (see APIG4).',
    });
    Validations.of(this.restApi).acknowledge({
      id: 'AwsSolutions-COG4',
      reason: 'Callers are AWS principals authenticated by SigV4 (AWS_IAM authorization), not Cognito users.',
    });
    Validations.of(this.restApi).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        'Every route but health requires SigV4 (AWS_IAM), the stage is throttled, and the broker caps bodies at 1 MiB; ' +
        'a WAF web ACL can be associated by the operator and is not required for an IAM-only API.',
    });
    Validations.of(this.restApi).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        'The account-level API Gateway logging role uses AmazonAPIGatewayPushToCloudWatchLogs, the policy AWS ' +
        'documents for execution logging; it grants only CloudWatch Logs writes.',
    });
  }
}
