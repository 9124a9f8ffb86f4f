import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CORS_HEADERS } from '../../../lambdas/entrypoints/lambda/deployment-names.ts';
import { REPO_ROOT } from '../../../lib/broker-bundling.ts';
import { CofferStack } from '../../../lib/coffer-stack.ts';

/** CofferStack with `console: true`: the console deployed beside the API, and the API's CORS for its origin only. */

const cdkJsonContext: Record<string, unknown> = JSON.parse(
  fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'),
).context;
const tempDirs: string[] = [];
const env = { account: '111122223333', region: 'eu-west-1' };

let outdir = '';

function newApp(): App {
  outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-console-stack-'));
  tempDirs.push(outdir);
  return new App({
    outdir,
    context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
  });
}

/** A stand-in for `dist/console/`, so the test needs no build. */
function consoleDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-console-files-'));
  tempDirs.push(dir);
  fs.mkdirSync(path.join(dir, 'assets'));
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html>');
  fs.writeFileSync(path.join(dir, 'assets', 'app-ABC.js'), '');
  return dir;
}

afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('CofferStack console', () => {
  let stack: CofferStack;
  let template: Template;
  let plain: Template;
  /** The distribution's domain as CloudFormation names it: `{"Fn::GetAtt": [<id>, "DomainName"]}`. */
  let domain: unknown;
  let consoleOutdir = '';

  beforeAll(() => {
    stack = new CofferStack(newApp(), 'coffer', { env, console: { consoleDir: consoleDir() } });
    // Template.fromStack refuses a dependency cycle: the API's CORS names the distribution, whose CSP names the API.
    template = Template.fromStack(stack);
    consoleOutdir = outdir;
    plain = Template.fromStack(new CofferStack(newApp(), 'coffer', { env }));
    const [distributionId] = Object.keys(template.findResources('AWS::CloudFront::Distribution'));
    domain = { 'Fn::GetAtt': [distributionId, 'DomainName'] };
  });

  it('is off by default: no distribution, no preflight, no CORS on errors or in the broker', () => {
    plain.resourceCountIs('AWS::CloudFront::Distribution', 0);
    plain.resourceCountIs('AWS::ApiGateway::GatewayResponse', 0);
    expect(
      Object.keys(plain.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'OPTIONS' } })),
    ).toHaveLength(0);
    expect(JSON.stringify(plain.toJSON())).not.toContain('COFFER_CONSOLE_ORIGIN');
  });

  it('deploys the console with the API URL, region and signing name execute-api in its config.json', () => {
    template.resourceCountIs('AWS::CloudFront::Distribution', 1);
    // jsonData stages config.json as an asset, its tokens as markers the deployment fills in.
    const staged = fs
      .readdirSync(consoleOutdir)
      .map((name) => path.join(consoleOutdir, name, 'config.json'))
      .filter((file) => fs.existsSync(file))
      .map((file) => JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>);
    expect(staged).toHaveLength(1);
    expect(staged[0]).toEqual({
      apiUrl: expect.stringMatching(/^https:\/\/<<marker:0xbaba:0>>\.execute-api\.<<marker:0xbaba:1>>\..+\/prod\/$/),
      region: expect.stringMatching(/^<<marker:0xbaba:\d>>$/),
      signingService: 'execute-api',
    });
    const markers = JSON.stringify(template.findResources('Custom::CDKBucketDeployment'));
    expect(markers).toContain('"<<marker:0xbaba:3>>":{"Ref":"AWS::Region"}');
  });

  it('answers preflights on every resource for the distribution’s origin only, with the signing headers', () => {
    const preflights = template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'OPTIONS' } });
    const resources = template.findResources('AWS::ApiGateway::Resource');
    // Every resource and the root.
    expect(Object.keys(preflights)).toHaveLength(Object.keys(resources).length + 1);
    const origin = { 'Fn::Join': ['', ["'https://", domain, "'"]] };
    type Preflight = {
      Properties: {
        AuthorizationType: string;
        Integration: { IntegrationResponses: { ResponseParameters: Record<string, unknown> }[] };
      };
    };
    for (const preflight of Object.values(preflights) as Preflight[]) {
      expect(preflight.Properties.AuthorizationType).toBe('NONE');
      const headers = preflight.Properties.Integration.IntegrationResponses[0]!.ResponseParameters;
      expect(headers['method.response.header.Access-Control-Allow-Origin']).toEqual(origin);
      const allowed = (headers['method.response.header.Access-Control-Allow-Headers'] as string)
        .replace(/'/g, '')
        .split(',');
      expect(allowed).toEqual(expect.arrayContaining([...CONSOLE_CORS_HEADERS]));
    }
    expect(JSON.stringify(template.toJSON())).not.toContain("'*'");
  });

  it('adds the origin to the gateway’s own 4XX and 5XX answers', () => {
    for (const type of ['DEFAULT_4XX', 'DEFAULT_5XX']) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        ResponseParameters: Match.objectLike({
          'gatewayresponse.header.Access-Control-Allow-Origin': { 'Fn::Join': ['', ["'https://", domain, "'"]] },
        }),
      });
    }
  });

  it('tells the broker the origin (COFFER_CONSOLE_ORIGIN), the distribution’s domain', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ COFFER_CONSOLE_ORIGIN: { 'Fn::Join': ['', ['https://', domain]] } }),
      },
    });
  });

  it('leaves no unacknowledged AwsSolutions finding', () => {
    expect(new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName)).toEqual([]);
  });
});
