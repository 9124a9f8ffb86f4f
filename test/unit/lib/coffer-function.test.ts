import fs from 'node:fs';
import path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../lib/broker-bundling.ts';
import { CofferFunction } from '../../../lib/coffer-function.ts';

const cdkJsonContext: Record<string, unknown> = JSON.parse(
  fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'),
).context;
const ENTRY = path.join(REPO_ROOT, 'lambdas/entrypoints/lambda/lease-sweeper-handler.ts');

/** Synthesises one function in a stack of its own (no bundling: only the resource's properties are looked at). */
function synth(props: Partial<ConstructorParameters<typeof CofferFunction>[2]> = {}) {
  const app = new App({ context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Fn', { env: { account: '123456789012', region: 'eu-west-1' } });
  const fn = new CofferFunction(stack, 'Function', {
    description: 'Coffer (test): a function',
    entry: ENTRY,
    ...props,
  });
  const [resource] = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
  return { stack, fn, properties: resource!.Properties as Record<string, unknown> };
}

describe('Class: CofferFunction', () => {
  // Synthesised before the tests, as the other construct suites do: the first synth of a run loads most of CDK.
  let defaults: ReturnType<typeof synth>;
  let customised: ReturnType<typeof synth>;
  beforeAll(() => {
    defaults = synth({ timeout: Duration.seconds(30), environment: { COFFER_TABLE_NAME: 'items' } });
    customised = synth({
      handler: 'onEvent',
      sourceMapStackTraces: false,
      environment: { COFFER_TABLE_NAME: 'items' },
    });
  });

  it('runs on nodejs22.x, arm64, with JSON logs and source-mapped stack traces', () => {
    expect(defaults.properties).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 30,
      LoggingConfig: { LogFormat: 'JSON' },
      Environment: { Variables: { COFFER_TABLE_NAME: 'items', NODE_OPTIONS: '--enable-source-maps' } },
    });
  });

  it('takes another handler export and leaves stack traces unmapped when asked', () => {
    expect(customised.properties.Handler).toBe('index.onEvent');
    expect(customised.properties.Environment).toEqual({ Variables: { COFFER_TABLE_NAME: 'items' } });
  });

  it('acknowledges the runtime finding with its reason, and leaves no other function finding', () => {
    const findings = new AwsSolutionsChecks().validateScope(defaults.fn).violations.map((v) => v.ruleName);
    expect(findings.filter((rule) => rule.startsWith('AwsSolutions-L'))).toEqual([]);
  });
});
