import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CONSOLE_CORS_HEADERS, TOKEN_BASE_PATH } from '../lambdas/entrypoints/lambda/deployment-names.ts';

/** A route API Gateway serves without IAM authorization: the broker's liveness probe (`sys.health`). */
export const HEALTH_PATH = '/v1/sys/health';
/**
 * The other routes API Gateway serves without IAM authorization: logins with an auth method (`auth.login`), whose
 * credential is in the body, and LDAP's Vault-style login with the user name in the path.
 */
export const LOGIN_PATHS = ['/v1/auth/{mount}/login', '/v1/auth/{mount}/login/{username}'] as const;

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
   * Steady-state requests per second to each login method (anyone can call them), so a guessing loop is held at
   * the gateway before it costs Lambda invocations; the broker's lockout still counts each attempt. @default 50
   */
  readonly loginThrottlingRateLimit?: number;
  /** Burst bucket size of each login method. @default 100 */
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
  /** A custom domain with mutual TLS, for certificate login on AWS. @default none */
  readonly mtlsDomain?: CofferMtlsDomainProps;
}

/**
 * A custom domain whose clients present TLS certificates: API Gateway verifies each against the truststore and hands
 * the verified certificate to the broker (`requestContext.identity.clientCert`), where certificate login checks it
 * against its roles. A domain with a truststore refuses every client without a certificate: IAM and token callers
 * keep the default endpoint (or a second domain without mTLS).
 */
export interface CofferMtlsDomainProps {
  /** e.g. `coffer.example.com`. */
  readonly domainName: string;
  /** The ACM certificate (same region) of the domain name. */
  readonly certificateArn: string;
  /** `s3://bucket/key` of the PEM bundle of CAs client certificates must chain to. */
  readonly truststoreUri: string;
  /** The S3 object version of the truststore, so an update is a deliberate deploy. @default the latest */
  readonly truststoreVersion?: string;
}

/**
 * The REST API in front of the broker: Lambda proxy integration for `/v1/{proxy+}` (Coffer's native API) and `POST /`
 * (the Secrets Manager-compatible JSON protocol), with `AWS_IAM` authorization on everything except
 * `GET /v1/sys/health` and the logins (`POST /v1/auth/{mount}/login`, `…/login/{username}`). API Gateway verifies the
 * SigV4 signature and hands the caller's ARN to the broker, which maps it to Coffer policies.
 *
 * Request size: a REST API accepts bodies up to 10 MB and has no smaller setting. The broker refuses bodies over
 * 1 MiB with 413 before parsing them (`DEFAULT_MAX_BODY_BYTES`), and the Lambda invoke payload is capped at 6 MB, so
 * the larger gateway limit costs a little transfer, never memory or a parse.
 */
export class CofferApi extends Construct {
  readonly restApi: apigateway.RestApi;
  readonly accessLogGroup: logs.LogGroup;
  readonly healthMethod: apigateway.Method;
  /** `POST /token` and `ANY /token/{proxy+}`: the API for Coffer-token callers (see `TOKEN_BASE_PATH`). */
  readonly tokenMethods: readonly apigateway.Method[];
  /** `POST` on each of {@link LOGIN_PATHS}. */
  readonly loginMethods: readonly apigateway.Method[];
  /** The mTLS custom domain, when `mtlsDomain` is set. */
  readonly mtlsDomain: apigateway.DomainName | undefined;

  constructor(scope: Construct, id: string, props: CofferApiProps) {
    super(scope, id);
    const rateLimit = props.throttlingRateLimit ?? 1000;
    const burstLimit = props.throttlingBurstLimit ?? 2000;
    const loginRateLimit = props.loginThrottlingRateLimit ?? 50;
    const loginBurstLimit = props.loginThrottlingBurstLimit ?? 100;
    if (
      !(rateLimit > 0 && Number.isInteger(burstLimit) && burstLimit > 0) ||
      !(loginRateLimit > 0 && Number.isInteger(loginBurstLimit) && loginBurstLimit > 0)
    ) {
      throw new Error('CofferControlPlane: throttling limits must be positive (burst a whole number)');
    }

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
        methodOptions: Object.fromEntries(
          LOGIN_PATHS.map((path) => [
            `${path}/POST`,
            { throttlingRateLimit: loginRateLimit, throttlingBurstLimit: loginBurstLimit },
          ]),
        ),
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

    if (props.mtlsDomain !== undefined) {
      const mtls = props.mtlsDomain;
      if (!mtls.truststoreUri.startsWith('s3://')) {
        throw new Error('CofferApi: mtlsDomain.truststoreUri must be an s3:// URI');
      }
      // A REST API's mTLS needs a regional domain and TLS 1.2 (API Gateway offers no 1.3-only policy for it).
      this.mtlsDomain = new apigateway.DomainName(this, 'MtlsDomain', {
        domainName: mtls.domainName,
        certificate: acm.Certificate.fromCertificateArn(this, 'MtlsCertificate', mtls.certificateArn),
        endpointType: apigateway.EndpointType.REGIONAL,
        securityPolicy: apigateway.SecurityPolicy.TLS_1_2,
        mtls: {
          bucket: s3BucketOf(this, mtls.truststoreUri),
          key: mtls.truststoreUri.replace(/^s3:\/\/[^/]+\//, ''),
          ...(mtls.truststoreVersion === undefined ? {} : { version: mtls.truststoreVersion }),
        },
      });
      this.mtlsDomain.addBasePathMapping(this.restApi, { stage: this.restApi.deploymentStage });
    }

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
    this.healthMethod = sys.addResource('health').addMethod('GET', integration, {
      ...methodOptions,
      authorizationType: apigateway.AuthorizationType.NONE,
    });

    // A login presents its credential in the body (a secret id, a JWT, a password), so it cannot be SigV4-signed by a
    // caller that has no AWS identity yet. The literal `auth` resource hides the proxy above for /v1/auth/…, so every
    // other route under it (roles, token and IAM-mapping operations) gets its IAM-authorised proxy back here.
    const mount = v1.addResource('auth').addResource('{mount}');
    mount.addProxy({ anyMethod: false }).addMethod('ANY', integration, methodOptions);
    const login = mount.addResource('login');
    const unauthenticated = { ...methodOptions, authorizationType: apigateway.AuthorizationType.NONE };
    this.loginMethods = [
      login.addMethod('POST', integration, unauthenticated),
      login.addResource('{username}').addMethod('POST', integration, unauthenticated),
    ];
    // Token callers (a workload's login token has no AWS identity behind it) reach the same broker under `/token`: the
    // gateway authorises nobody there and the broker authenticates the Coffer token itself (the API Gateway entry
    // never takes an IAM identity for a request under it).
    const tokenRoot = this.restApi.root.addResource(TOKEN_BASE_PATH.slice(1));
    this.tokenMethods = [
      tokenRoot.addMethod('POST', integration, unauthenticated),
      tokenRoot.addProxy({ anyMethod: false }).addMethod('ANY', integration, unauthenticated),
    ];
    for (const method of this.tokenMethods) {
      Validations.of(method).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'Token callers: the broker authenticates the Coffer token on every request (as the local server does), ' +
          'refuses a request without one, audits each, and takes no IAM identity for requests under /token.',
      });
      Validations.of(method).acknowledge({
        id: 'AwsSolutions-COG4',
        reason: 'Coffer tokens, not Cognito users, authenticate token callers (see APIG4).',
      });
    }
    for (const method of this.loginMethods) {
      Validations.of(method).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'Logins are how a workload without AWS credentials gets a Coffer token: the credential is in the body, the ' +
          'broker checks it and audits every attempt, and it refuses every other route to a caller without an IAM ' +
          'identity.',
      });
      Validations.of(method).acknowledge({
        id: 'AwsSolutions-COG4',
        reason: 'Logins are deliberately open to callers without AWS credentials (see APIG4).',
      });
    }

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
        'Every route but health and the logins requires SigV4 (AWS_IAM), the stage is throttled, and the broker caps ' +
        'bodies at 1 MiB; ' +
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

/**
 * CORS for the web console (`CofferConsole`) at `origin` (`https://<distribution>.cloudfront.net`), and for nothing
 * else: every resource answers the browser's preflight `OPTIONS` (a mock integration, no authorisation: a preflight
 * carries no credentials and reaches no data), and the gateway's own error answers (a refused signature, throttling)
 * carry `Access-Control-Allow-Origin: <origin>` so the page can read why. The broker's answers get the same header
 * from the Lambda (`COFFER_CONSOLE_ORIGIN`).
 */
export function allowConsoleOrigin(api: CofferApi, origin: string): void {
  const allowOrigin = `'${origin}'`;
  const resources = [
    api.restApi.root,
    ...api.restApi.node.findAll().filter((c): c is apigateway.Resource => c instanceof apigateway.Resource),
  ];
  for (const resource of resources) {
    resource.addCorsPreflight({
      allowOrigins: [origin],
      allowHeaders: [...CONSOLE_CORS_HEADERS],
      allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      maxAge: Duration.minutes(10),
    });
  }
  for (const type of [apigateway.ResponseType.DEFAULT_4XX, apigateway.ResponseType.DEFAULT_5XX]) {
    api.restApi.addGatewayResponse(`Cors${type.responseType}`, {
      type,
      responseHeaders: { 'Access-Control-Allow-Origin': allowOrigin, Vary: "'Origin'" },
    });
  }
  for (const method of api.restApi.methods.filter((m) => m.httpMethod === 'OPTIONS')) {
    Validations.of(method).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'A CORS preflight for the web console: a mock integration that answers which origin, methods and headers ' +
        'are allowed, carries no credentials and reaches neither the broker nor any data.',
    });
    Validations.of(method).acknowledge({
      id: 'AwsSolutions-COG4',
      reason: 'A CORS preflight is unauthenticated by definition (see APIG4).',
    });
  }
}

/** The bucket of an `s3://bucket/key` URI, imported by name. */
function s3BucketOf(scope: Construct, uri: string): s3.IBucket {
  const bucket = /^s3:\/\/([^/]+)\/.+/.exec(uri)?.[1];
  if (bucket === undefined) throw new Error('CofferApi: mtlsDomain.truststoreUri must be s3://bucket/key');
  return s3.Bucket.fromBucketName(scope, 'MtlsTruststoreBucket', bucket);
}
