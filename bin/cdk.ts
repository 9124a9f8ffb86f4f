#!/usr/bin/env node
/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy` run this through `cdk.json`. Settings come from CDK context
 * (`coffer:name`, `coffer:auditRetentionDays`, `coffer:alarmTopicArn`, `coffer:adminRoleArns`,
 * `coffer:assumableRoleArns`, `coffer:cloudHsmClusterId`, `coffer:cloudHsmTrustAnchorFile`,
 * `coffer:cloudHsmPasswordSecretArn`, `coffer:replicaRegions`), so nothing here needs AWS credentials:
 * without `CDK_DEFAULT_ACCOUNT`/`CDK_DEFAULT_REGION` the stack is environment-agnostic and synthesises offline.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CofferStack, cofferMultiRegion, cofferSettingsFromContext } from '../lib/coffer-stack.ts';

const app = new App();
const settings = cofferSettingsFromContext(app.node);
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;

const description = `Coffer (${settings.name}): secrets control plane (API, broker, keys, items table, audit)`;
if (settings.replicaRegions !== undefined) {
  // A replica region's stack takes the primary's table and key ids across regions: both must be explicit.
  if (!account || !region) {
    throw new Error(
      'coffer:replicaRegions needs CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION (cdk deploy sets them from your credentials)',
    );
  }
  cofferMultiRegion(app, { ...settings, replicaRegions: settings.replicaRegions, description }, { account, region });
} else {
  new CofferStack(app, settings.name, {
    ...settings,
    description,
    env: account || region ? { account, region } : undefined,
  });
}

// cdk-nag 3 is a policy-validation plugin (not an Aspect as in cdk-nag 2): an unacknowledged AwsSolutions error
// fails synthesis, and every finding lands in cdk.out/policy-validation-report.json.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

app.synth();
