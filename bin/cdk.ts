#!/usr/bin/env node
/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy` run this through `cdk.json`. Settings come from CDK context
 * (`coffer:name`, `coffer:auditRetentionDays`, `coffer:alarmTopicArn`, `coffer:adminRoleArns`,
 * `coffer:assumableRoleArns`, `coffer:cloudHsmClusterId`, `coffer:cloudHsmTrustAnchorFile`,
 * `coffer:cloudHsmPasswordSecretArn`), so nothing here needs AWS credentials:
 * without `CDK_DEFAULT_ACCOUNT`/`CDK_DEFAULT_REGION` the stack is environment-agnostic and synthesises offline.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CofferStack, cofferSettingsFromContext } from '../lib/coffer-stack.ts';

const app = new App();
const settings = cofferSettingsFromContext(app.node);
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;

new CofferStack(app, settings.name, {
  ...settings,
  description: `Coffer (${settings.name}): secrets control plane (API, broker, keys, items table, audit)`,
  env: account || region ? { account, region } : undefined,
});

// cdk-nag 3 is a policy-validation plugin (not an Aspect as in cdk-nag 2): an unacknowledged AwsSolutions error
// fails synthesis, and every finding lands in cdk.out/policy-validation-report.json.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

app.synth();
