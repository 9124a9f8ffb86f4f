import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeRoutes } from '../../../lambdas/broker/routes/index.ts';
import { AwsConfigSchema } from '../../../lambdas/entrypoints/lambda/config.ts';
import { RELAY_SERVICE_NAME } from '../../../lambdas/entrypoints/lambda/deployment-names.ts';
import { LeaseSweeperConfigSchema } from '../../../lambdas/entrypoints/lambda/lease-sweeper.ts';
import { ESM_REQUIRE_BANNER, REPO_ROOT } from '../../../lib/broker-bundling.ts';
import { HEALTH_PATH, LOGIN_PATHS } from '../../../lib/coffer-api.ts';
import {
  CofferControlPlane,
  ENVELOPE_KEY_ACTIONS,
  ENVELOPE_REWRAP_ACTIONS,
  ENVELOPE_SECRET_ID_PATTERN,
  STORE_TABLE_ACTIONS,
} from '../../../lib/coffer-control-plane.ts';
import { AUDIT_SHIPPING_LAG_METRIC } from '../../../lib/coffer-monitoring.ts';
import { CofferStack } from '../../../lib/coffer-stack.ts';

const cdkJsonContext: Record<string, unknown> = JSON.parse(
  fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'),
).context;
const ADMIN = 'arn:aws:iam::123456789012:role/coffer-admin';
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:coffer-alarms';
const ASSUMABLE = 'arn:aws:iam::123456789012:role/reports-reader';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
const asList = (value: string | string[]) => (Array.isArray(value) ? value : [value]);

describe('Stack: CofferStack (broker, API, trail, monitoring)', () => {
  let outdir: string;
  let stack: CofferStack;
  let template: Template;
  // biome-ignore lint/suspicious/noExplicitAny: synthesised CloudFormation JSON, asserted field by field below.
  let resources: Record<string, { Type: string; Properties: Record<string, any>; Metadata?: unknown }>;
  const idOf = (construct: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(construct.node.defaultChild as s3.CfnBucket);
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

  beforeAll(() => {
    outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-deploy-'));
    // One real esbuild bundle for the whole file; the built-in CloudFormation rule check runs in the bin test.
    const app = new App({ outdir, context: cdkJsonContext, builtinCloudFormationValidation: false });
    stack = new CofferStack(app, 'coffer', {
      adminRoleArns: [ADMIN],
      assumableRoleArns: [ASSUMABLE],
      alarmTopicArn: TOPIC,
      throttlingRateLimit: 250,
      throttlingBurstLimit: 500,
      loginThrottlingRateLimit: 20,
      loginThrottlingBurstLimit: 40,
    });
    template = Template.fromStack(stack);
    resources = template.toJSON().Resources;
  });
  afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

  describe('broker function', () => {
    const fnProps = () =>
      ofType('AWS::Lambda::Function')
        .filter(([id]) => id === idOf(stack.controlPlane.broker.function))
        .map(([, r]) => r.Properties);

    it('is one nodejs22.x arm64 function with an ESM handler (beside the relay, sweeper, rotation and compliance only)', () => {
      expect(fnProps()).toHaveLength(1);
      expect(
        ofType('AWS::Lambda::Function')
          .map(([id]) => id)
          .sort(),
      ).toEqual(
        [
          idOf(stack.controlPlane.broker.function),
          idOf(stack.controlPlane.auditRelay.function),
          idOf(stack.controlPlane.leaseSweeper.function),
          idOf(stack.controlPlane.rotation.function),
          idOf(stack.controlPlane.compliance.function),
        ].sort(),
      );
      expect(fnProps()[0]).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: 1024,
        Timeout: 15,
        LoggingConfig: { LogFormat: 'JSON' },
      });
    });

    it('sets only settings the Lambda config reads, the salt as a secret ARN and never inline', () => {
      const env = fnProps()[0]!.Environment.Variables as Record<string, unknown>;
      const settings = new Set(Object.keys(AwsConfigSchema.in.shape));
      const cofferVars = Object.keys(env).filter((name) => !name.startsWith('POWERTOOLS_'));
      for (const name of cofferVars) expect(settings, name).toContain(name);
      expect(cofferVars.sort()).toEqual([
        'COFFER_AUDIT_BUCKET',
        'COFFER_AUDIT_SALT_SECRET_ARN',
        'COFFER_BOOTSTRAP_ADMIN_ARNS',
        'COFFER_DEPLOYMENT_NAME',
        'COFFER_ENVELOPE_KEY_ARN',
        'COFFER_EVENT_BUS_NAME',
        'COFFER_PUBLIC_URL',
        'COFFER_ROTATION_SCHEDULER_ROLE_ARN',
        'COFFER_ROTATION_SCHEDULE_GROUP',
        'COFFER_ROTATION_STATE_MACHINE_ARN',
        'COFFER_ROTATION_TARGET_ARN',
        'COFFER_TABLE_NAME',
      ]);
      expect(env.COFFER_DEPLOYMENT_NAME).toBe('coffer');
      expect(env.COFFER_AUDIT_SALT_SECRET_ARN).toEqual({ Ref: idOf(stack.controlPlane.broker.auditSaltSecret) });
      expect(env.COFFER_ENVELOPE_KEY_ARN).toEqual({ 'Fn::GetAtt': [idOf(stack.controlPlane.envelopeKey), 'Arn'] });
      expect(env.COFFER_BOOTSTRAP_ADMIN_ARNS).toBe(ADMIN);
      expect(env).toMatchObject({ POWERTOOLS_SERVICE_NAME: 'coffer', POWERTOOLS_METRICS_NAMESPACE: 'Coffer' });
    });

    it('bundles ESM split into index.mjs and chunks, with the require banner, the SDK inside, minified, with external source maps', () => {
      const hash = String(fnProps()[0]!.Code.S3Key).replace(/\.zip$/, '');
      const bundleDir = path.join(outdir, `asset.${hash}`);
      expect(fs.existsSync(path.join(bundleDir, 'index.mjs'))).toBe(true);
      const files = fs.readdirSync(bundleDir).filter((name) => /\.mjs(\.map)?$/.test(name));
      const modules = files.filter((name) => name.endsWith('.mjs'));
      // The lazily loaded engines live in chunks beside the entry (lib/broker-bundling.ts, SPLIT_OUTPUT).
      expect(modules.length).toBeGreaterThan(1);
      const code = fs.readFileSync(path.join(bundleDir!, 'index.mjs'), 'utf8');
      const all = modules.map((name) => fs.readFileSync(path.join(bundleDir, name), 'utf8'));
      for (const module of all) {
        expect(module.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
        expect(module).not.toMatch(/from\s*["']@aws-sdk\//);
      }
      expect(all.join('\n')).toContain('GenerateDataKey');
      // Minified: long lines (the few line breaks left sit inside template literals).
      expect(code.length / code.split('\n').length).toBeGreaterThan(2000);
      const maps = modules.map((name) => fs.readFileSync(path.join(bundleDir, `${name}.map`), 'utf8'));
      for (const map of maps) expect(JSON.parse(map).sourcesContent).toBeUndefined();
      const deflated = [...all, ...maps].reduce((bytes, text) => bytes + deflateRawSync(text).length, 0);
      // The goal: ≤ 1 MB (docs/BENCHMARKS.md; issue 15). Importing zod as a namespace dropped its locales (zod 460 KB
      // -> 111 KB of the minified bundle) and the credential providers no Lambda function uses went (-90 KB): from
      // 1.14 MB to about 0.97 MB.
      expect(deflated).toBeLessThan(1_000_000);
    });

    it('keeps the audit salt in a generated secret encrypted with the storage key', () => {
      template.hasResourceProperties('AWS::SecretsManager::Secret', {
        KmsKeyId: { 'Fn::GetAtt': [idOf(stack.controlPlane.storageKey), 'Arn'] },
        GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true, IncludeSpace: false },
      });
    });

    it('runs under its own role with no managed policy', () => {
      const [, role] = ofType('AWS::IAM::Role').find(([id]) => id.startsWith('ControlPlaneBrokerRole'))!;
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
      ]);
    });

    it('grants the role exactly the calls the adapters make, each on its one resource', () => {
      const statements = ofType('AWS::IAM::Policy')
        .filter(([, p]) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref.startsWith('ControlPlaneBrokerRole')))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
      const plane = stack.controlPlane;
      const byActions = (actions: readonly string[]) =>
        statements.filter((s) => JSON.stringify(asList(s.Action).sort()) === JSON.stringify([...actions].sort()));
      const viaService = (service: string) => ({
        StringEquals: {
          'kms:ViaService': { 'Fn::Join': ['', [`${service}.`, { Ref: 'AWS::Region' }, '.amazonaws.com']] },
        },
      });

      // Logs, salt, table, storage key, envelope key; CA key create/tag/use; customer keys (describe, use);
      // AssumeRole; rotation control (start, describe, schedules, pass the scheduler role, publish events: see
      // coffer-rotation.test.ts).
      expect(statements).toHaveLength(16);
      const tagged = { StringEquals: { 'aws:ResourceTag/coffer:secrets': stack.controlPlane.deploymentName } };
      expect(
        byActions(['kms:DescribeKey']).find((s) => s.Condition?.StringEquals?.['aws:ResourceTag/coffer:secrets']),
      ).toMatchObject({ Resource: '*', Condition: tagged });
      expect(byActions(['kms:GenerateDataKey', 'kms:Decrypt']).find((s) => s.Resource === '*')!.Condition).toEqual({
        ...tagged,
        StringLike: { 'kms:EncryptionContext:secretId': ENVELOPE_SECRET_ID_PATTERN },
        Null: { 'kms:EncryptionContext:versionId': 'false' },
      });
      expect(byActions(['logs:CreateLogStream', 'logs:PutLogEvents'])[0]!.Resource).toEqual({
        'Fn::GetAtt': [idOf(plane.broker.logGroup), 'Arn'],
      });
      expect(byActions(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'])[0]!.Resource).toEqual({
        Ref: idOf(plane.broker.auditSaltSecret),
      });
      expect(byActions(STORE_TABLE_ACTIONS)[0]!.Resource).toEqual({ 'Fn::GetAtt': [idOf(plane.table), 'Arn'] });
      const envelope = byActions([...ENVELOPE_KEY_ACTIONS, ...ENVELOPE_REWRAP_ACTIONS])[0]!;
      expect(envelope.Resource).toEqual({ 'Fn::GetAtt': [idOf(plane.envelopeKey), 'Arn'] });
      expect(envelope.Condition).toEqual({
        StringLike: { 'kms:EncryptionContext:secretId': ENVELOPE_SECRET_ID_PATTERN },
        Null: { 'kms:EncryptionContext:versionId': 'false' },
      });
      expect(byActions(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'])[0]!.Condition).toEqual(
        viaService('dynamodb'),
      );
      const all = statements.flatMap((s) => asList(s.Action));
      for (const forbidden of [
        'dynamodb:Scan',
        'dynamodb:PutItem',
        's3:GetObject',
        's3:DeleteObject',
        'kms:ScheduleKeyDeletion',
        'kms:UntagResource',
      ]) {
        expect(all).not.toContain(forbidden);
      }
    });

    it('puts no wildcard action in any IAM policy, inline or attached', () => {
      const documents = [
        ...ofType('AWS::IAM::Policy').map(([, p]) => p.Properties.PolicyDocument),
        ...ofType('AWS::IAM::ManagedPolicy').map(([, p]) => p.Properties.PolicyDocument),
        ...ofType('AWS::IAM::Role').flatMap(([, r]) =>
          ((r.Properties.Policies ?? []) as { PolicyDocument: unknown }[]).map((p) => p.PolicyDocument),
        ),
      ] as { Statement: Statement[] }[];
      const actions = documents.flatMap((d) => d.Statement.flatMap((s) => asList(s.Action)));
      expect(actions.length).toBeGreaterThan(0);
      expect(actions.filter((a) => a.includes('*'))).toEqual([]);
      expect(actions.filter((a) => /^(kms|dynamodb):/.test(a)).length).toBeGreaterThan(0);
    });
  });

  describe('broker grants for the dynamic-secret engines and PKI', () => {
    const brokerStatements = () =>
      ofType('AWS::IAM::Policy')
        .filter(([, p]) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref.startsWith('ControlPlaneBrokerRole')))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as (Statement & { Sid?: string })[]);
    const bySid = (sid: string) => brokerStatements().find((s) => s.Sid === sid)!;

    it('lets the broker create only SIGN_VERIFY CA keys tagged with the deployment, and tag only at creation', () => {
      const create = bySid('CreateCaKeys');
      expect(create).toMatchObject({ Effect: 'Allow', Action: 'kms:CreateKey', Resource: '*' });
      expect(create.Condition).toEqual({
        StringEquals: { 'aws:RequestTag/coffer:ca': 'coffer', 'kms:KeyUsage': 'SIGN_VERIFY' },
        'ForAllValues:StringEquals': { 'aws:TagKeys': ['coffer:ca', 'coffer:pki-ca'] },
      });
      const tag = bySid('TagCaKeysAtCreation');
      expect(tag).toMatchObject({ Action: 'kms:TagResource', Resource: '*' });
      expect(tag.Condition).toEqual({
        StringEquals: { 'aws:RequestTag/coffer:ca': 'coffer' },
        'ForAllValues:StringEquals': { 'aws:TagKeys': ['coffer:ca', 'coffer:pki-ca'] },
      });
    });

    it('lets the broker sign, read public keys and describe only keys tagged coffer:ca=<deployment>', () => {
      const use = bySid('UseCaKeys');
      expect(asList(use.Action).sort()).toEqual(['kms:DescribeKey', 'kms:GetPublicKey', 'kms:Sign']);
      expect(use.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/coffer:ca': 'coffer' } });
      // Every KMS statement on * carries a condition.
      for (const s of brokerStatements().filter((st) => st.Resource === '*')) expect(s.Condition, s.Sid).toBeDefined();
    });

    it('lets the broker assume exactly the configured roles', () => {
      expect(bySid('AssumeDynamicRoles')).toMatchObject({ Action: 'sts:AssumeRole', Resource: ASSUMABLE });
      const assumes = brokerStatements().filter((s) => asList(s.Action).includes('sts:AssumeRole'));
      expect(assumes).toHaveLength(1);
    });

    it('passes the API stage URL as COFFER_PUBLIC_URL, without a dependency cycle', () => {
      const [, fn] = ofType('AWS::Lambda::Function').find(([id]) => id === idOf(stack.controlPlane.broker.function))!;
      const url = JSON.stringify(fn.Properties.Environment.Variables.COFFER_PUBLIC_URL);
      expect(url).toContain(idOf(stack.controlPlane.api.restApi));
      expect(url).toContain('.execute-api.');
      expect(url).toContain('/prod');
      expect(url).not.toContain('Stage');
    });

    it('puts no * action on KMS or DynamoDB anywhere', () => {
      const actions = ofType('AWS::IAM::Policy').flatMap(([, p]) =>
        (p.Properties.PolicyDocument.Statement as Statement[]).flatMap((s) => asList(s.Action)),
      );
      expect(actions.filter((a) => /^(kms|dynamodb):.*\*/.test(a))).toEqual([]);
    });
  });

  describe('lease sweeper', () => {
    const sweeperId = () => idOf(stack.controlPlane.leaseSweeper.function);

    it('is a nodejs22.x arm64 function with reserved concurrency 1 and only the settings it reads', () => {
      const [, fn] = ofType('AWS::Lambda::Function').find(([id]) => id === sweeperId())!;
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        ReservedConcurrentExecutions: 1,
      });
      const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
      const settings = new Set<string>([...Object.keys(LeaseSweeperConfigSchema.in.shape), 'NODE_OPTIONS']);
      for (const name of Object.keys(variables)) expect(settings, name).toContain(name);
      expect(variables.COFFER_TABLE_NAME).toEqual({ Ref: idOf(stack.controlPlane.table) });
    });

    it('runs every minute from an EventBridge rule', () => {
      const rules = ofType('AWS::Events::Rule').filter(([, r]) =>
        JSON.stringify(r.Properties.Targets).includes(sweeperId()),
      );
      expect(rules).toHaveLength(1);
      expect(rules[0]![1].Properties.ScheduleExpression).toBe('rate(1 minute)');
      const permissions = ofType('AWS::Lambda::Permission')
        .map(([, p]) => p.Properties)
        .filter((p) => JSON.stringify(p.FunctionName).includes(sweeperId()));
      expect(permissions).toHaveLength(1);
      expect(permissions[0]!.Principal).toBe('events.amazonaws.com');
    });

    it('gets the store actions, the envelope key under its secret context, and its own logs, nothing else', () => {
      const statements = ofType('AWS::IAM::Policy')
        .filter(([, p]) =>
          p.Properties.Roles.some((r: { Ref: string }) => r.Ref === idOf(stack.controlPlane.leaseSweeper.role)),
        )
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
      const actions = statements.map((s) => asList(s.Action).sort());
      expect(actions).toContainEqual([...STORE_TABLE_ACTIONS].sort());
      expect(actions).toContainEqual([...ENVELOPE_KEY_ACTIONS].sort());
      // Store, storage key, envelope key, logs; customer keys (describe, use), as a secret may name one.
      expect(statements).toHaveLength(6);
      const envelope = statements.find((s) => asList(s.Action).includes('kms:GenerateDataKey') && s.Condition?.Null)!;
      expect(envelope.Condition).toEqual({
        StringLike: { 'kms:EncryptionContext:secretId': ENVELOPE_SECRET_ID_PATTERN },
        Null: { 'kms:EncryptionContext:versionId': 'false' },
      });
      const all = statements.flatMap((s) => asList(s.Action));
      for (const forbidden of ['kms:CreateKey', 'kms:Sign', 'sts:AssumeRole', 'dynamodb:Scan']) {
        expect(all).not.toContain(forbidden);
      }
    });
  });

  describe('audit relay and extension layer', () => {
    it('streams the table to the audit relay, which alone alarms on shipping lag', () => {
      const [, table] = ofType('AWS::DynamoDB::Table')[0]!;
      expect(table.Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_IMAGE' });
      const mappings = ofType('AWS::Lambda::EventSourceMapping').map(([, m]) => m.Properties);
      expect(mappings).toHaveLength(1);
      expect(JSON.stringify(mappings[0]!.FunctionName)).toContain(idOf(stack.controlPlane.auditRelay.function));
      const lagAlarms = ofType('AWS::CloudWatch::Alarm').filter(
        ([, a]) => a.Properties.MetricName === 'AuditShippingLagSeconds',
      );
      expect(lagAlarms.map(([id]) => id)).toEqual([idOf(stack.controlPlane.auditRelay.lagAlarm)]);
      expect(lagAlarms[0]![1].Properties.AlarmActions).toEqual([TOPIC]);
    });

    it('publishes the Lambda extension as a layer', () => {
      expect(ofType('AWS::Lambda::LayerVersion')).toHaveLength(1);
    });
  });

  describe('REST API', () => {
    const methods = () => ofType('AWS::ApiGateway::Method').map(([, m]) => m.Properties);
    const pathOf = (resourceId: unknown): string => {
      if (typeof resourceId === 'object' && resourceId !== null && 'Fn::GetAtt' in resourceId) return '/';
      const id = (resourceId as { Ref: string }).Ref;
      const resource = resources[id]!.Properties;
      const parent = pathOf(resource.ParentId);
      return `${parent === '/' ? '' : parent}/${resource.PathPart}`;
    };

    const TOKEN_ROUTES = ['POST /token', 'ANY /token/{proxy+}'];
    const OPEN_ROUTES = [`GET ${HEALTH_PATH}`, ...LOGIN_PATHS.map((path) => `POST ${path}`), ...TOKEN_ROUTES];
    /** What API Gateway matches a resource path with: `{name}` one segment, `{name+}` the rest. */
    const matcher = (path: string) =>
      new RegExp(`^${path.replace(/\{[^}]+\+\}/g, '.+').replace(/\{[^}]+\}/g, '[^/]+')}$`);
    const samplePath = (path: string) => path.replace(/\{[^}]+\+\}/g, 'a/b').replace(/\{[^}]+\}/g, 'x');

    it('serves POST /, ANY /v1/{proxy+}, ANY /v1/sys/{proxy+}, ANY /v1/auth/{mount}/{proxy+}, health and logins', () => {
      const routes = methods().map((m) => `${m.HttpMethod} ${pathOf(m.ResourceId)}`);
      expect(routes.sort()).toEqual(
        [
          'ANY /v1/sys/{proxy+}',
          'ANY /v1/{proxy+}',
          'ANY /v1/auth/{mount}/{proxy+}',
          `GET ${HEALTH_PATH}`,
          'POST /v1/auth/{mount}/login',
          'POST /v1/auth/{mount}/login/{username}',
          'POST /',
          ...TOKEN_ROUTES,
        ].sort(),
      );
    });

    it('requires AWS_IAM on every method except the health check and the logins', () => {
      for (const method of methods()) {
        const route = `${method.HttpMethod} ${pathOf(method.ResourceId)}`;
        expect(method.AuthorizationType, route).toBe(OPEN_ROUTES.includes(route) ? 'NONE' : 'AWS_IAM');
      }
    });

    it('leaves open only broker routes that need no authentication: health and login', () => {
      const health = nativeRoutes().find((route) => route.operation === 'sys.health');
      expect(health).toMatchObject({ method: 'GET', path: HEALTH_PATH, auth: 'none' });
      const login = nativeRoutes().find((route) => route.operation === 'auth.login');
      expect(login).toMatchObject({ method: 'POST', path: LOGIN_PATHS[0], auth: 'none' });
      // The token base path is open by design: there the broker authenticates the Coffer token (api-gateway.test.ts).
      const open = methods()
        .filter(
          (m) => m.AuthorizationType === 'NONE' && !TOKEN_ROUTES.includes(`${m.HttpMethod} ${pathOf(m.ResourceId)}`),
        )
        .map((m) => ({ method: m.HttpMethod as string, match: matcher(pathOf(m.ResourceId)) }));
      // No route that needs a caller is reachable through an open method (whatever the broker would do with it).
      for (const route of nativeRoutes()) {
        if (route.auth === 'none' || route.target !== undefined) continue;
        const path = samplePath(route.path);
        const through = open.filter((m) => m.method === route.method && m.match.test(path));
        expect(through, `${route.method} ${route.path}`).toEqual([]);
      }
    });

    it('proxies every method to the broker function and validates requests', () => {
      const fnId = idOf(stack.controlPlane.broker.function);
      const validatorId = ofType('AWS::ApiGateway::RequestValidator')[0]![0];
      template.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
        ValidateRequestBody: true,
        ValidateRequestParameters: true,
      });
      for (const method of methods()) {
        expect(method.Integration.Type).toBe('AWS_PROXY');
        expect(JSON.stringify(method.Integration.Uri)).toContain(fnId);
        expect(method.RequestValidatorId).toEqual({ Ref: validatorId });
      }
      const permissions = ofType('AWS::Lambda::Permission')
        .map(([, p]) => p.Properties)
        .filter((p) => JSON.stringify(p.FunctionName).includes(fnId));
      expect(permissions).toHaveLength(9);
      for (const p of permissions) expect(p.Principal).toBe('apigateway.amazonaws.com');
    });

    it('throttles the stage and each login method, logs access as JSON, logs errors without bodies, and traces', () => {
      const [, stage] = ofType('AWS::ApiGateway::Stage')[0]!;
      expect(stage.Properties).toMatchObject({ StageName: 'prod', TracingEnabled: true });
      expect(stage.Properties.MethodSettings).toEqual([
        {
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: 250,
          ThrottlingBurstLimit: 500,
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
          MetricsEnabled: true,
        },
        // Each login method, open to anyone, throttled on its own below the stage's limits.
        ...['/~1v1~1auth~1{mount}~1login', '/~1v1~1auth~1{mount}~1login~1{username}'].map((resourcePath) => ({
          HttpMethod: 'POST',
          ResourcePath: resourcePath,
          ThrottlingRateLimit: 20,
          ThrottlingBurstLimit: 40,
          DataTraceEnabled: false,
        })),
      ]);
      const paths = ofType('AWS::ApiGateway::Resource').map(([, r]) => r.Properties.PathPart);
      expect(paths).toEqual(expect.arrayContaining(['auth', '{mount}', 'login', '{proxy+}']));
      const access = stage.Properties.AccessLogSetting;
      expect(JSON.stringify(access.DestinationArn)).toContain(idOf(stack.controlPlane.api.accessLogGroup));
      const format = JSON.parse(access.Format);
      expect(format).toMatchObject({
        requestId: '$context.requestId',
        status: '$context.status',
        caller: '$context.identity.caller',
      });
    });
  });

  describe('CloudTrail', () => {
    it('validates log files and logs all management events plus the table and audit-bucket data events', () => {
      const [, trail] = ofType('AWS::CloudTrail::Trail')[0]!;
      const plane = stack.controlPlane;
      expect(trail.Properties).toMatchObject({
        EnableLogFileValidation: true,
        IsMultiRegionTrail: true,
        IncludeGlobalServiceEvents: true,
        IsLogging: true,
        S3BucketName: { Ref: idOf(plane.trail.bucket) },
      });
      expect(trail.Properties.EventSelectors).toBeUndefined();
      expect(trail.Properties.AdvancedEventSelectors.map((s: { FieldSelectors: unknown }) => s.FieldSelectors)).toEqual(
        [
          // No eventSource filter: KMS calls (GenerateDataKey, Decrypt, ReEncrypt) are management events.
          [{ Field: 'eventCategory', Equals: ['Management'] }],
          [
            { Field: 'eventCategory', Equals: ['Data'] },
            { Field: 'resources.type', Equals: ['AWS::DynamoDB::Table'] },
            { Field: 'resources.ARN', Equals: [{ 'Fn::GetAtt': [idOf(plane.table), 'Arn'] }] },
          ],
          [
            { Field: 'eventCategory', Equals: ['Data'] },
            { Field: 'resources.type', Equals: ['AWS::S3::Object'] },
            {
              Field: 'resources.ARN',
              StartsWith: [{ 'Fn::Join': ['', [{ 'Fn::GetAtt': [idOf(plane.auditBucket), 'Arn'] }, '/']] }],
            },
          ],
        ],
      );
    });

    it('writes to its own encrypted, private, TLS-only bucket with access logs', () => {
      const plane = stack.controlPlane;
      const bucket = resources[idOf(plane.trail.bucket)]!.Properties;
      expect(bucket.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
        { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
      ]);
      expect(Object.values(bucket.PublicAccessBlockConfiguration)).toEqual([true, true, true, true]);
      expect(bucket.LoggingConfiguration).toEqual({
        DestinationBucketName: { Ref: idOf(plane.accessLogBucket) },
        LogFilePrefix: 'trail-bucket/',
      });
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: idOf(plane.trail.bucket) },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
            Match.objectLike({
              Effect: 'Allow',
              Action: 's3:PutObject',
              Principal: { Service: 'cloudtrail.amazonaws.com' },
            }),
          ]),
        },
      });
    });
  });

  describe('monitoring', () => {
    const alarms = () => ofType('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const alarmOn = (namespace: string, metricName: string) =>
      alarms().filter((a) => a.Namespace === namespace && a.MetricName === metricName);

    it.each([
      ['AWS/ApiGateway', '5XXError'],
      ['AWS/ApiGateway', '4XXError'],
      ['AWS/Lambda', 'Errors'],
      ['AWS/Lambda', 'Throttles'],
      ['Coffer', 'BrokerErrors'],
      ['Coffer', 'KmsErrors'],
      ['Coffer', AUDIT_SHIPPING_LAG_METRIC],
    ])('alarms on %s %s', (namespace, metricName) => {
      // The compliance function's own alarms are its construct's (test/unit/lib/coffer-compliance.test.ts).
      const compliance = (a: { AlarmDescription?: unknown }) => String(a.AlarmDescription).includes('compliance');
      expect(alarmOn(namespace, metricName).filter((a) => !compliance(a))).toHaveLength(1);
    });

    it('alarms on DynamoDB throttles of the table', () => {
      const throttles = alarms().filter((a) => JSON.stringify(a.Metrics ?? '').includes('ThrottledRequests'));
      expect(throttles).toHaveLength(1);
    });

    it('reads the broker and relay metrics with their Powertools service dimensions', () => {
      for (const name of ['BrokerErrors', 'KmsErrors']) {
        expect(alarmOn('Coffer', name)[0]!.Dimensions).toEqual([{ Name: 'service', Value: 'coffer' }]);
      }
      expect(alarmOn('Coffer', AUDIT_SHIPPING_LAG_METRIC)[0]!.Dimensions).toEqual([
        { Name: 'service', Value: RELAY_SERVICE_NAME },
      ]);
      expect(alarmOn('Coffer', AUDIT_SHIPPING_LAG_METRIC)[0]).toMatchObject({ Statistic: 'Maximum', Threshold: 300 });
    });

    it('sends every alarm to the alarm topic', () => {
      // 10, and the compliance function's 6.
      expect(alarms()).toHaveLength(16);
      for (const alarm of alarms()) expect(alarm.AlarmActions).toEqual([TOPIC]);
    });

    it('draws a dashboard of the same metrics', () => {
      const [, dashboard] = ofType('AWS::CloudWatch::Dashboard').find(([id]) => !id.includes('Compliance'))!;
      const body = JSON.stringify(dashboard.Properties.DashboardBody);
      for (const name of [
        '5XXError',
        '4XXError',
        'Throttles',
        'BrokerErrors',
        'KmsErrors',
        AUDIT_SHIPPING_LAG_METRIC,
        'ThrottledRequests',
        'LoginSucceeded',
        'LoginFailed',
      ]) {
        expect(body).toContain(name);
      }
    });
  });

  it('outputs the API URL', () => {
    expect(template.toJSON().Outputs.ApiUrl.Value).toBeDefined();
  });

  it('leaves no unacknowledged AwsSolutions finding, and every acknowledgment gives a reason', () => {
    expect(new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName)).toEqual([]);
    const acknowledgments = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((m) => Object.entries(m.data as Record<string, string>));
    expect(acknowledgments.length).toBeGreaterThan(0);
    for (const [id, reason] of acknowledgments) expect(reason.length, id).toBeGreaterThan(40);
  });
});

describe('Stack: CofferStack (validation)', () => {
  const app = () =>
    new App({
      context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] },
      builtinCloudFormationValidation: false,
    });

  it('refuses an admin pattern with *', () => {
    expect(() => new CofferStack(app(), 'bad', { adminRoleArns: ['arn:aws:iam::123456789012:role/*'] })).toThrow(
      /adminRoleArns must be exact IAM or STS ARNs/,
    );
  });

  it('drops the table data events from the trail when asked, keeping management and audit-bucket events', () => {
    const stack = new CofferStack(app(), 'lean', { trailTableDataEvents: false });
    const trail = Object.values(Template.fromStack(stack).findResources('AWS::CloudTrail::Trail'))[0]!;
    const types = JSON.stringify(trail.Properties.AdvancedEventSelectors);
    expect(types).not.toContain('AWS::DynamoDB::Table');
    expect(types).toContain('Management');
    expect(types).toContain('AWS::S3::Object');
  });

  it('refuses an assumable role that is not an exact role ARN, and grants no AssumeRole without one', () => {
    expect(
      () => new CofferStack(app(), 'badRole', { assumableRoleArns: ['arn:aws:iam::123456789012:role/*'] }),
    ).toThrow(/assumableRoleArns must be exact IAM role ARNs/);
    const statements = Object.values(
      Template.fromStack(new CofferStack(app(), 'noRoles')).findResources('AWS::IAM::Policy'),
    )
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
      .flatMap((s) => asList(s.Action));
    expect(statements).not.toContain('sts:AssumeRole');
  });

  it('omits the bootstrap variable when there is no admin', () => {
    const stack = new CofferStack(app(), 'none');
    const fn = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'))[0]!;
    expect(fn.Properties.Environment.Variables.COFFER_BOOTSTRAP_ADMIN_ARNS).toBeUndefined();
  });

  it('embeds as an L3 construct in any stack, with its broker and API', () => {
    const stack = new Stack(app(), 'Embedded');
    new CofferControlPlane(stack, 'Plane', { name: 'embedded' });
    const template = Template.fromStack(stack);
    // The broker, the audit relay, the lease sweeper, rotation, compliance.
    template.resourceCountIs('AWS::Lambda::Function', 5);
    template.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    template.resourceCountIs('AWS::CloudTrail::Trail', 1);
  });
});

describe('Stack: CofferStack (CloudHSM envelope key)', () => {
  const PASSWORD_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:coffer/kmsuser-AbCdEf';
  const PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
  let stack: CofferStack;
  let template: Template;

  beforeAll(() => {
    const app = new App({
      context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] },
      builtinCloudFormationValidation: false,
    });
    stack = new CofferStack(app, 'hsm', {
      name: 'hsm',
      cloudHsmClusterId: 'cluster-igklspoyj5v',
      cloudHsmTrustAnchorCertificate: PEM,
      cloudHsmPasswordSecretArn: PASSWORD_SECRET,
    });
    template = Template.fromStack(stack);
  });

  it('creates the envelope key through the custom resource, not as an AWS::KMS::Key', () => {
    const keys = Object.values(template.findResources('AWS::KMS::Key'));
    expect(keys).toHaveLength(1);
    expect(keys[0]!.Properties.Description).toMatch(/at-rest encryption/);
    template.hasResourceProperties('Custom::CofferCloudHsmEnvelopeKey', {
      ClusterId: 'cluster-igklspoyj5v',
      KeyStoreName: 'hsm-envelope',
      TrustAnchorCertificate: PEM,
      KmsUserPasswordSecretArn: PASSWORD_SECRET,
      KeyAlias: 'alias/hsm/envelope',
    });
  });

  it('passes the password only as a secret ARN, never as a value', () => {
    const [resource] = Object.values(template.findResources('Custom::CofferCloudHsmEnvelopeKey'));
    expect(Object.keys(resource!.Properties).filter((k) => /password/i.test(k))).toEqual(['KmsUserPasswordSecretArn']);
  });

  it('points the broker and its envelope grant at the key the custom resource made', () => {
    const [resourceId] = Object.keys(template.findResources('Custom::CofferCloudHsmEnvelopeKey'));
    const keyArn = { 'Fn::GetAtt': [resourceId, 'KeyArn'] };
    const fn = Object.values(template.findResources('AWS::Lambda::Function')).find((f) =>
      String(f.Properties.Description).includes('broker'),
    )!;
    expect(fn.Properties.Environment.Variables.COFFER_ENVELOPE_KEY_ARN).toEqual(keyArn);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: [...ENVELOPE_KEY_ACTIONS, ...ENVELOPE_REWRAP_ACTIONS].sort(),
            Resource: keyArn,
            Condition: Match.objectLike({
              StringLike: { 'kms:EncryptionContext:secretId': ENVELOPE_SECRET_ID_PATTERN },
            }),
          }),
        ]),
      },
    });
  });

  it('lets only the custom resource handler read the kmsuser password', () => {
    const readers = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p.Properties.PolicyDocument).includes(PASSWORD_SECRET),
    );
    expect(readers).toHaveLength(1);
    expect(JSON.stringify(readers[0]!.Properties.Roles)).toContain('CloudHsmEnvelopeKeyHandlerRole');
  });

  it('polls for the connection for up to an hour', () => {
    // The provider's waiter, beside the rotation workflow.
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 2);
  });

  it('leaves no unacknowledged AwsSolutions finding', () => {
    expect(new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName)).toEqual([]);
  });

  it.each([
    [
      { cloudHsmClusterId: 'cluster-igklspoyj5v' },
      /needs cloudHsmTrustAnchorCertificate and cloudHsmKmsUserPasswordSecret/,
    ],
    [
      { cloudHsmClusterId: 'nope', cloudHsmTrustAnchorCertificate: PEM, cloudHsmPasswordSecretArn: PASSWORD_SECRET },
      /cloudHsmClusterId must look like cluster-/,
    ],
    [
      {
        cloudHsmClusterId: 'cluster-igklspoyj5v',
        cloudHsmTrustAnchorCertificate: 'x',
        cloudHsmPasswordSecretArn: PASSWORD_SECRET,
      },
      /must be a PEM certificate/,
    ],
  ])('refuses incomplete CloudHSM settings %#', (props, message) => {
    const app = new App({
      context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] },
      builtinCloudFormationValidation: false,
    });
    expect(() => new CofferStack(app, 'bad', props)).toThrow(message);
  });
});
