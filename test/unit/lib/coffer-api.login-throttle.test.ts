import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { CofferApi, type CofferApiProps } from '../../../lib/coffer-api.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A CofferApi in front of a stand-in function (the stack test synthesises the real broker). */
function synth(props: Partial<CofferApiProps> = {}) {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-api-'));
  dirs.push(outdir);
  const stack = new Stack(new App({ outdir }), 'Test');
  const handler = new lambda.Function(stack, 'Broker', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200, body: "" });'),
  });
  new CofferApi(stack, 'Api', { deploymentName: 'test', handler, removalPolicy: RemovalPolicy.DESTROY, ...props });
  return Template.fromStack(stack);
}

describe('Construct: CofferApi (login throttling)', () => {
  it('throttles each login method with its own limits', () => {
    const stage = Object.values(
      synth({ loginThrottlingRateLimit: 5, loginThrottlingBurstLimit: 10 }).findResources('AWS::ApiGateway::Stage'),
    )[0]!;
    const logins = (stage.Properties.MethodSettings as { ResourcePath: string }[]).filter((s) =>
      s.ResourcePath.includes('login'),
    );
    expect(logins).toEqual([
      expect.objectContaining({ HttpMethod: 'POST', ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 }),
      expect.objectContaining({ HttpMethod: 'POST', ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 }),
    ]);
  });

  it('refuses login limits that are not positive', () => {
    expect(() => synth({ loginThrottlingRateLimit: 0 })).toThrow('throttling limits must be positive');
    expect(() => synth({ loginThrottlingBurstLimit: 1.5 })).toThrow('throttling limits must be positive');
  });
});
