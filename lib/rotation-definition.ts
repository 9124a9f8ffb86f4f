/**
 * The rotation state machine's definition as plain ASL: taken from a synthesised template, with every CloudFormation
 * token replaced by a stable placeholder. The local runner executes this JSON (committed as
 * `lambdas/core/rotation/workflow/rotation-state-machine.asl.json` by `npm run asl`), so both runtimes run the one
 * definition CDK builds; a test re-synthesises it and fails on drift.
 */
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ROTATION_STATES } from '../lambdas/core/rotation/rotation-workflow.ts';
import { REPO_ROOT } from './broker-bundling.ts';
import { CofferRotation } from './coffer-rotation.ts';

/** Where the generated definition is committed. */
export const ROTATION_ASL_PATH = path.join(REPO_ROOT, 'lambdas/core/rotation/workflow/rotation-state-machine.asl.json');

/** Stands for the rotation Lambda in the committed definition (the local runner binds task states by name). */
export const ROTATION_FUNCTION_PLACEHOLDER_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:coffer-rotation';

/** What pseudo parameters become in the committed definition. */
const PSEUDO_PARAMETERS: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'us-east-1',
  'AWS::AccountId': '000000000000',
  'AWS::URLSuffix': 'amazonaws.com',
};

/** The part of a CloudFormation template this module reads. */
export interface TemplateJson {
  readonly Resources?: Readonly<
    Record<string, { readonly Type: string; readonly Properties?: Record<string, unknown> }>
  >;
}

/** An ASL document (JSONPath): only the fields this module looks at are typed. */
export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Record<string, Record<string, unknown>>;
  readonly [field: string]: unknown;
}

/**
 * The rotation state machine's definition in `template` (the one whose `StartAt` is `resumeOrStart`), with its
 * `Fn::Join` resolved: the rotation function's ARN becomes {@link ROTATION_FUNCTION_PLACEHOLDER_ARN}, pseudo
 * parameters fixed values. Any other token is refused, so the committed file never depends on a deployment.
 *
 * @throws Error when the template holds no, or more than one, rotation state machine, or an unknown token
 * @example
 * const asl = rotationDefinitionFromTemplate(Template.fromStack(stack).toJSON());
 */
export function rotationDefinitionFromTemplate(template: TemplateJson): AslDefinition {
  const found = Object.values(template.Resources ?? {})
    .filter((resource) => resource.Type === 'AWS::StepFunctions::StateMachine')
    .map((resource) => JSON.parse(renderDefinition(resource.Properties?.DefinitionString, template)) as AslDefinition)
    .filter((definition) => definition.StartAt === ROTATION_STATES.resume);
  if (found.length !== 1) {
    throw new Error(`expected one rotation state machine in the template, found ${found.length}`);
  }
  return found[0]!;
}

/**
 * Synthesises {@link CofferRotation} in a throwaway app (no bundling) and returns its definition.
 *
 * @example
 * writeFileSync(ROTATION_ASL_PATH, JSON.stringify(synthesiseRotationDefinition(), null, 2));
 */
export function synthesiseRotationDefinition(): AslDefinition {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'RotationDefinition');
  new CofferRotation(stack, 'Rotation', {
    tableName: 'coffer-items',
    envelopeKeyArn: 'arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000',
    auditBucketName: 'coffer-audit',
    auditSaltSecret: secretsmanager.Secret.fromSecretCompleteArn(
      stack,
      'Salt',
      'arn:aws:secretsmanager:us-east-1:000000000000:secret:coffer-salt-AbCdEf',
    ),
  });
  const template = app.synth().getStackByName(stack.stackName).template as TemplateJson;
  return rotationDefinitionFromTemplate(template);
}

function renderDefinition(definition: unknown, template: TemplateJson): string {
  if (typeof definition === 'string') return definition;
  const join = (definition as { 'Fn::Join'?: [string, unknown[]] } | undefined)?.['Fn::Join'];
  if (!join) throw new Error(`unexpected DefinitionString: ${JSON.stringify(definition)}`);
  const [separator, parts] = join;
  return parts.map((part) => (typeof part === 'string' ? part : placeholderFor(part, template))).join(separator);
}

function placeholderFor(token: unknown, template: TemplateJson): string {
  const ref = (token as { Ref?: unknown }).Ref;
  if (typeof ref === 'string' && ref in PSEUDO_PARAMETERS) return PSEUDO_PARAMETERS[ref]!;
  const getAtt = (token as { 'Fn::GetAtt'?: unknown })['Fn::GetAtt'];
  if (Array.isArray(getAtt) && getAtt[1] === 'Arn') {
    const type = template.Resources?.[String(getAtt[0])]?.Type;
    if (type === 'AWS::Lambda::Function') return ROTATION_FUNCTION_PLACEHOLDER_ARN;
  }
  throw new Error(`no placeholder for the token ${JSON.stringify(token)} in the rotation definition`);
}
