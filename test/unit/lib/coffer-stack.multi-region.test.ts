import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { CofferStack, cofferMultiRegion, cofferSettingsFromContext } from '../../../lib/coffer-stack.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const cdkJsonContext: Record<string, unknown> = JSON.parse(
  fs.readFileSync(path.join(repoRoot, 'cdk.json'), 'utf8'),
).context;
const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function newApp(context: Record<string, unknown> = {}): App {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-'));
  tempDirs.push(outdir);
  return new App({
    outdir,
    context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [], ...context },
    builtinCloudFormationValidation: false,
  });
}

const env = { account: '111122223333', region: 'us-east-1' };

function deployment() {
  const app = newApp();
  const { primary, replicas } = cofferMultiRegion(
    app,
    { name: 'coffer', replicaRegions: ['us-west-2', 'eu-west-1'] },
    env,
  );
  return {
    primary: Template.fromStack(primary),
    replicas: replicas.map((r) => Template.fromStack(r)),
    stacks: replicas,
  };
}

describe('multi-region deployment (replicaRegions)', () => {
  const { primary, replicas, stacks } = deployment();

  it('makes the items table a global table with a replica per region, each under its region’s replica key', () => {
    primary.resourceCountIs('AWS::DynamoDB::Table', 0);
    const tables = primary.findResources('AWS::DynamoDB::GlobalTable');
    expect(Object.keys(tables)).toHaveLength(1);
    const table = Object.values(tables)[0] as { Properties: Record<string, unknown> };
    const replicaRegions = (table.Properties.Replicas as { Region: string }[]).map((r) => r.Region).sort();
    expect(replicaRegions).toEqual(['eu-west-1', 'us-east-1', 'us-west-2']);
    expect(table.Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
    for (const replica of table.Properties.Replicas as { Region: string; SSESpecification?: unknown }[]) {
      if (replica.Region === 'us-east-1') continue;
      // The replica key shares the primary's key id, in the replica's region.
      expect(JSON.stringify(replica.SSESpecification)).toContain(`:kms:${replica.Region}:`);
    }
  });

  it('makes the envelope and storage keys multi-region, and replicates each to every region before the table', () => {
    const keys = primary.findResources('AWS::KMS::Key');
    expect(
      Object.values(keys).map((k) => (k as { Properties: { MultiRegion?: boolean } }).Properties.MultiRegion),
    ).toEqual([true, true]);
    const replications = Object.fromEntries(
      Object.entries(primary.findResources('Custom::AWS')).filter(([, r]) =>
        JSON.stringify((r as { Properties: { Create?: unknown } }).Properties.Create).includes('replicateKey'),
      ),
    );
    expect(Object.keys(replications)).toHaveLength(4);
    const creates = Object.values(replications).map(
      (r) => (r as { Properties: { Create: unknown } }).Properties.Create,
    );
    expect(JSON.stringify(creates)).toContain('us-west-2');
    expect(JSON.stringify(creates)).toContain('eu-west-1');
    const table = Object.values(primary.findResources('AWS::DynamoDB::GlobalTable'))[0] as { DependsOn?: string[] };
    for (const id of Object.keys(replications)) expect(table.DependsOn).toContain(id);
  });

  it('gives each replica region a broker over the global table, with no table or key of its own', () => {
    expect(stacks.map((s) => s.region)).toEqual(['us-west-2', 'eu-west-1']);
    for (const [index, replica] of replicas.entries()) {
      const region = stacks[index]!.region;
      replica.resourceCountIs('AWS::DynamoDB::Table', 0);
      replica.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
      replica.resourceCountIs('AWS::KMS::Key', 0);
      // Its own audit outbox and relay: the other regions' records are in the same global table.
      replica.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ COFFER_AUDIT_OUTBOX_SCOPE: region }) },
      });
      replica.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FilterCriteria: {
          Filters: [{ Pattern: Match.stringLikeRegexp(`audit-outbox@${region}#`) }],
        },
      });
      replica.resourceCountIs('AWS::S3::Bucket', 3);
    }
  });

  it('runs a replicator in every region, woken by writes to that region’s own secrets partition', () => {
    const mappings = (t: Template) =>
      JSON.stringify(
        Object.values(t.findResources('AWS::Lambda::EventSourceMapping')).map(
          (m) => (m as { Properties: { FilterCriteria?: unknown } }).Properties.FilterCriteria,
        ),
      );
    // The primary's region keeps the original partition names; a replica region's secrets are `secrets@<region>`.
    expect(mappings(primary)).toContain('{\\"S\\":[\\"secrets\\"]}');
    expect(mappings(replicas[0]!)).toContain('secrets@us-west-2');
    for (const [index, template] of [primary, ...replicas].entries()) {
      template.hasResourceProperties('AWS::Events::Rule', {
        Description: Match.stringLikeRegexp('reconcile replicas'),
        ScheduleExpression: 'rate(1 minute)',
      });
      if (index > 0) {
        // Every region names the partitions alike: the primary's region is the store's.
        template.hasResourceProperties('AWS::Lambda::Function', {
          Environment: { Variables: Match.objectLike({ COFFER_STORE_REGION: 'us-east-1' }) },
        });
      }
    }
  });

  it('keeps the primary’s audit outbox unscoped, so single-region deployments read the same partitions', () => {
    const fns = primary.findResources('AWS::Lambda::Function');
    expect(JSON.stringify(fns)).not.toContain('COFFER_AUDIT_OUTBOX_SCOPE');
  });
});

describe('replicaRegions settings', () => {
  it('reads coffer:replicaRegions from context, comma-separated or JSON', () => {
    expect(
      cofferSettingsFromContext(newApp({ 'coffer:replicaRegions': 'us-west-2, eu-west-1' }).node).replicaRegions,
    ).toEqual(['us-west-2', 'eu-west-1']);
    expect(cofferSettingsFromContext(newApp({ 'coffer:replicaRegions': ['ap-south-1'] }).node).replicaRegions).toEqual([
      'ap-south-1',
    ]);
  });

  it('refuses a bad or repeated region at synth, naming it', () => {
    expect(() => cofferSettingsFromContext(newApp({ 'coffer:replicaRegions': 'us-west-2,nowhere' }).node)).toThrow(
      /'nowhere' is not an AWS region/,
    );
    expect(() => cofferSettingsFromContext(newApp({ 'coffer:replicaRegions': 'us-west-2,us-west-2' }).node)).toThrow(
      /listed twice/,
    );
  });

  it('refuses the deployment’s own region as a replica, and a replica stack without an explicit region', () => {
    expect(() => cofferMultiRegion(newApp(), { name: 'coffer', replicaRegions: ['us-east-1'] }, env)).toThrow(
      /own region/,
    );
    expect(
      () =>
        new CofferStack(newApp(), 'replica', {
          replicaOf: { primaryRegion: 'us-east-1', tableName: 't', envelopeKeyId: 'mrk-1', storageKeyId: 'mrk-2' },
        }),
    ).toThrow(/explicit region/);
  });

  it('refuses replicaRegions with a CloudHSM key store (it holds no multi-region keys)', () => {
    expect(
      () =>
        new CofferStack(newApp(), 'hsm', {
          env,
          replicaRegions: ['us-west-2'],
          cloudHsmClusterId: 'cluster-abcdefghijk',
          cloudHsmTrustAnchorCertificate: 'pem',
          cloudHsmPasswordSecretArn: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:kmsuser-AbCdEf',
        }),
    ).toThrow(/CloudHSM/);
  });
});
