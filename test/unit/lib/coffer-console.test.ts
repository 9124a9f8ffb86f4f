import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CofferConsole } from '../../../lib/coffer-console.ts';

const API_URL = 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod/';

describe('Construct: CofferConsole', () => {
  let dir: string;
  let stack: Stack;
  let site: CofferConsole;
  let template: Template;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-console-cdk-'));
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html>');
    writeFileSync(path.join(dir, 'config.json'), '{}');
    writeFileSync(path.join(dir, 'assets', 'app-ABC.js'), '');
    stack = new Stack(new App(), 'console', { env: { account: '123456789012', region: 'eu-west-1' } });
    const logs = new s3.Bucket(stack, 'AccessLogs', { enforceSSL: true });
    Validations.of(logs).acknowledge({ id: 'AwsSolutions-S1', reason: 'the test stand-in for the access-log bucket' });
    site = new CofferConsole(stack, 'Console', { apiUrl: API_URL, accessLogBucket: logs, consoleDir: dir });
    template = Template.fromStack(stack);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the files in a private, encrypted, TLS-only bucket with access logs', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: Match.objectLike({}),
      LoggingConfiguration: { DestinationBucketName: Match.anyValue(), LogFilePrefix: 'console-bucket/' },
    });
  });

  it('lets only the distribution read the bucket, through origin access control', () => {
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    const policy = JSON.stringify(template.findResources('AWS::S3::BucketPolicy'));
    expect(policy).toContain('cloudfront.amazonaws.com');
    expect(policy).toContain('AWS:SourceArn');
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultRootObject: 'index.html',
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https' }),
      }),
    });
  });

  it('sends the CSP of the local server with the API allowed, HSTS and the other security headers', () => {
    const policy = template.findResources('AWS::CloudFront::ResponseHeadersPolicy');
    const config = Object.values(policy)[0]!.Properties.ResponseHeadersPolicyConfig;
    const csp = config.SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy as string;
    expect(csp).toContain(`connect-src 'self' ${API_URL};`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe');
    expect(config.SecurityHeadersConfig).toMatchObject({
      StrictTransportSecurity: { AccessControlMaxAgeSec: 31_536_000, IncludeSubdomains: true, Override: true },
      ContentTypeOptions: { Override: true },
      FrameOptions: { FrameOption: 'DENY' },
      ReferrerPolicy: { ReferrerPolicy: 'no-referrer' },
    });
    const custom = config.CustomHeadersConfig.Items.map((h: { Header: string }) => h.Header);
    expect(custom).toEqual(expect.arrayContaining(['cross-origin-opener-policy', 'permissions-policy']));
  });

  it('deploys the hashed assets for a year and the page and its config uncached, with the API URL', () => {
    const deployments = Object.values(template.findResources('Custom::CDKBucketDeployment')).map(
      (r) =>
        r.Properties as {
          DestinationBucketKeyPrefix?: string;
          SystemMetadata?: Record<string, string>;
          Prune: boolean;
        },
    );
    expect(deployments).toHaveLength(2);
    const assets = deployments.find((d) => d.DestinationBucketKeyPrefix === 'assets/');
    expect(assets?.SystemMetadata?.['cache-control']).toBe('public, max-age=31536000, immutable');
    const page = deployments.find((d) => d.DestinationBucketKeyPrefix === undefined);
    expect(page?.SystemMetadata?.['cache-control']).toBe('no-store');
    expect(deployments.every((d) => d.Prune === false)).toBe(true);
    expect(JSON.stringify(template.findResources('Custom::CDKBucketDeployment'))).toContain('config.json');
    expect(site.distribution).toBeDefined();
  });

  it('leaves no unacknowledged AwsSolutions finding, and every acknowledgment gives a reason', () => {
    expect(new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName)).toEqual([]);
    const reasons = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((m) => Object.values(m.data as Record<string, string>));
    expect(reasons.length).toBeGreaterThan(0);
    for (const reason of reasons) expect(reason.length).toBeGreaterThan(20);
  });
});
