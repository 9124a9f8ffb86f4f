import path from 'node:path';
import { DefaultStackSynthesizer, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { CONSOLE_SECURITY_HEADERS, consoleCsp } from '../lambdas/core/auth/console-headers.ts';
import { REPO_ROOT } from './broker-bundling.ts';

export interface CofferConsoleProps {
  /** The Coffer API the console calls (written to `config.json`, and allowed by the CSP's `connect-src`). */
  readonly apiUrl: string;
  /** The API's region, which the console's SigV4 signatures name (`config.json`). @default the stack's region */
  readonly region?: string;
  /** Where the server access logs of the console's bucket go (e.g. the control plane's access-log bucket). */
  readonly accessLogBucket: s3.IBucket;
  /** The built console (`npm run build`). @default `<repo>/dist/console` */
  readonly consoleDir?: string;
  /** A WAF web ACL (global, CLOUDFRONT scope) for the distribution. @default none */
  readonly webAclId?: string;
}

/** Hashed assets never change content: browsers and CloudFront keep them for a year. */
const ASSET_CACHE = [
  s3deploy.CacheControl.setPublic(),
  s3deploy.CacheControl.maxAge(Duration.days(365)),
  s3deploy.CacheControl.immutable(),
];

/**
 * The web console on AWS: the files `npm run build` writes to `dist/console/`, in a private bucket that only the
 * distribution reads (origin access control), served by CloudFront over HTTPS with the same CSP and security headers
 * the local server sends, plus HSTS. `config.json` names the API. The page and its config are never cached; hashed
 * assets are kept, and old ones are not pruned, so a tab opened before a deployment keeps working.
 *
 * @example
 * new CofferConsole(stack, 'Console', { apiUrl: api.restApi.url, accessLogBucket: plane.accessLogBucket });
 */
export class CofferConsole extends Construct {
  readonly bucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  readonly responseHeaders: cloudfront.ResponseHeadersPolicy;
  /** The console's origin (`https://<domain>.cloudfront.net`), which the API's CORS allows. */
  readonly origin: string;

  constructor(scope: Construct, id: string, props: CofferConsoleProps) {
    super(scope, id);
    const dir = props.consoleDir ?? path.join(REPO_ROOT, 'dist', 'console');
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogBucket,
      serverAccessLogsPrefix: 'console-bucket/',
      // The files are rebuilt from the repository by any deployment; nothing in the bucket is unique.
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    const {
      'x-content-type-options': _sniff,
      'referrer-policy': _referrer,
      'x-frame-options': _frame,
      ...others
    } = CONSOLE_SECURITY_HEADERS;
    this.responseHeaders = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'Coffer console: the CSP and security headers of the local server, and HSTS',
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: consoleCsp([props.apiUrl]), override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          override: true,
        },
      },
      customHeadersBehavior: {
        customHeaders: Object.entries(others).map(([header, value]) => ({ header, value, override: true })),
      },
    });
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Coffer web console',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: this.responseHeaders,
      },
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      ...(props.webAclId === undefined ? {} : { webAclId: props.webAclId }),
    });
    this.origin = `https://${this.distribution.distributionDomainName}`;
    const assets = new s3deploy.BucketDeployment(this, 'Assets', {
      sources: [s3deploy.Source.asset(path.join(dir, 'assets'))],
      destinationBucket: this.bucket,
      destinationKeyPrefix: 'assets/',
      cacheControl: ASSET_CACHE,
      prune: false,
    });
    const page = new s3deploy.BucketDeployment(this, 'Page', {
      sources: [
        s3deploy.Source.asset(dir, { exclude: ['assets', 'assets/**', 'config.json'] }),
        // The console signs its calls (SigV4, AWS credentials) for API Gateway: signing name `execute-api`.
        s3deploy.Source.jsonData('config.json', {
          apiUrl: props.apiUrl,
          region: props.region ?? Stack.of(this).region,
          signingService: 'execute-api',
        }),
      ],
      destinationBucket: this.bucket,
      cacheControl: [s3deploy.CacheControl.noStore()],
      prune: false,
      distribution: this.distribution,
      distributionPaths: ['/index.html', '/config.json'],
    });
    // The page names the assets: they are in place before it is.
    page.node.addDependency(assets);
    this.acknowledge(props);
  }

  private acknowledge(props: CofferConsoleProps): void {
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason: 'The console is a static page of no value without a Coffer token; who may sign in is the API’s decision.',
    });
    if (props.webAclId === undefined) {
      Validations.of(this.distribution).acknowledge({
        id: 'AwsSolutions-CFR2',
        reason:
          'A static page behind a read-only GET/HEAD origin; `webAclId` attaches the operator’s WAF ACL when wanted.',
      });
    }
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR3',
      reason:
        'The bucket’s server access logs record every object CloudFront fetches; the API’s own access log and the ' +
        'audit log record what the console does.',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR4',
      reason:
        'The default *.cloudfront.net certificate takes no minimum protocol version; put a custom domain and ' +
        'certificate (TLSv1.2_2021) in front for one.',
    });
    // BucketDeployment's provider function is created once per stack, outside this scope: its findings are named
    // exactly, so a new permission in a later aws-cdk-lib shows up rather than passing silently.
    const stack = Stack.of(this);
    const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    // Literal when the app's context names the partitions (cdk.json's target partitions), a token otherwise.
    const partition = Token.isUnresolved(stack.partition) ? '<AWS::Partition>' : stack.partition;
    const qualifier =
      (stack.node.tryGetContext('@aws-cdk/core:bootstrapQualifier') as string | undefined) ??
      DefaultStackSynthesizer.DEFAULT_QUALIFIER;
    const findings: Record<string, string> = {
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]':
        "CDK's deployment provider logs through AWSLambdaBasicExecutionRole (CloudWatch Logs only).",
      'AwsSolutions-IAM5[Resource::*]': "CDK's deployment provider invalidates the distribution's paths after a copy.",
      [`AwsSolutions-IAM5[Resource::${arnToken(this.bucket)}/*]`]:
        'The provider writes the built console into its bucket: every key of that bucket, nothing else.',
      [`AwsSolutions-IAM5[Resource::arn:${partition}:s3:::cdk-${qualifier}-assets-${account}-${region}/*]`]:
        'The provider reads the console from the CDK bootstrap asset bucket.',
    };
    for (const action of ['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*']) {
      findings[`AwsSolutions-IAM5[Action::${action}]`] =
        'The grant CDK gives its deployment provider on the two buckets above: read the asset, replace the files.';
    }
    for (const child of stack.node.children) {
      if (child.node.id.startsWith('Custom::CDKBucketDeployment')) {
        for (const [id, reason] of Object.entries(findings)) Validations.of(child).acknowledge({ id, reason });
      }
      if (child.node.id.startsWith('Custom::CDKBucketDeployment') || child.node.id.startsWith('Custom::S3AutoDelete')) {
        Validations.of(child).acknowledge({
          id: 'AwsSolutions-L1',
          reason: "The runtime of CDK's own provider functions is aws-cdk-lib's choice, updated with it.",
        });
      }
    }
  }
}

/** A bucket's ARN as cdk-nag names it in findings (`<LogicalId.Arn>`). */
function arnToken(bucket: s3.IBucket): string {
  const resolved = Stack.of(bucket).resolve(bucket.bucketArn) as unknown;
  const getAtt = (resolved as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
  if (getAtt !== undefined) return `<${getAtt[0]}.${getAtt[1]}>`;
  return typeof resolved === 'string' ? resolved : JSON.stringify(resolved);
}
