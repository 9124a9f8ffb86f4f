import * as z from 'zod';
import { ValidationError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import type { Capability } from './policy-types.ts';

/**
 * AWS-style resource policies on secrets (PutResourcePolicy), mapped onto Coffer's model: Coffer policies attached
 * to the caller decide what is allowed, and a resource policy's `Deny` statements take it away again for the
 * principals and actions they name. Deny wins, as everywhere in Coffer. `Allow` statements are kept and returned, but
 * never widen access: granting rights is the job of the caller's own policies, so a secret's owner cannot hand a
 * secret to strangers by editing the secret.
 */

/** The Secrets Manager actions each Coffer capability stands for. */
const ACTIONS: Record<Exclude<Capability, 'deny'>, readonly string[]> = {
  create: ['CreateSecret'],
  read: ['GetSecretValue', 'DescribeSecret', 'ListSecretVersionIds', 'GetResourcePolicy', 'BatchGetSecretValue'],
  update: [
    'PutSecretValue',
    'UpdateSecret',
    'UpdateSecretVersionStage',
    'RestoreSecret',
    'TagResource',
    'UntagResource',
  ],
  rotate: ['RotateSecret', 'CancelRotateSecret'],
  delete: ['DeleteSecret'],
  list: ['ListSecrets'],
  sudo: ['PutResourcePolicy', 'DeleteResourcePolicy'],
};

const OneOrMany = z.union([z.string(), z.array(z.string()).min(1)]);
const Statement = z.looseObject({
  Sid: z.string().optional(),
  Effect: z.enum(['Allow', 'Deny']),
  Principal: z.union([z.literal('*'), z.looseObject({ AWS: OneOrMany })]),
  Action: OneOrMany,
  Resource: OneOrMany.optional(),
  Condition: z.unknown().optional(),
});
const Document = z.looseObject({
  Version: z.enum(['2012-10-17', '2008-10-17']).optional(),
  Statement: z.union([Statement, z.array(Statement).min(1)]),
});

export type ResourcePolicyStatement = z.infer<typeof Statement>;

/**
 * Parses and checks a policy document as PutResourcePolicy does.
 * @throws ValidationError `MalformedPolicyDocumentException` for a document that is not a policy, or that uses
 *   conditions (not supported: refused rather than ignored, since ignoring a condition widens a Deny's exceptions);
 *   `PublicPolicyException` for an `Allow` to everyone while `blockPublicPolicy` is on
 */
export function parseResourcePolicy(text: string, options: { blockPublicPolicy: boolean }): ResourcePolicyStatement[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed('The policy document is not valid JSON.');
  }
  const result = Document.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw malformed(`The policy document is malformed at ${issue?.path.join('.') || 'its root'}: ${issue?.message}`);
  }
  const statements = Array.isArray(result.data.Statement) ? result.data.Statement : [result.data.Statement];
  for (const statement of statements) {
    if (statement.Condition !== undefined) throw malformed('Conditions in resource policies are not supported.');
    for (const action of list(statement.Action)) {
      if (!/^(\*|secretsmanager:[A-Za-z*?]+)$/.test(action)) {
        throw malformed(`Action ${action} is not a Secrets Manager action.`);
      }
    }
    if (options.blockPublicPolicy && statement.Effect === 'Allow' && principals(statement).includes('*')) {
      throw new ValidationError('This resource policy grants access to everyone (Principal "*").', {
        details: { awsType: 'PublicPolicyException' },
      });
    }
  }
  return statements;
}

/** The ARN a Coffer principal goes by in resource policies. Token holders have none: only `"*"` names them. */
export function principalArn(principal: Principal, account: string): string | undefined {
  if (principal.type === 'iam') return principal.id;
  if (principal.type === 'access-key') return `arn:aws:iam::${account}:user/${principal.displayName}`;
  return undefined;
}

/** Whether a Deny statement of the policy takes `capability` on the secret `arn` away from `principal`. */
export function deniedByResourcePolicy(
  statements: readonly ResourcePolicyStatement[],
  request: { principalArn: string | undefined; capability: Exclude<Capability, 'deny'>; secretArn: string },
): boolean {
  const actions = ACTIONS[request.capability].map((a) => `secretsmanager:${a}`);
  return statements.some(
    (s) =>
      s.Effect === 'Deny' &&
      principals(s).some((p) => p === '*' || (request.principalArn !== undefined && glob(p, request.principalArn))) &&
      list(s.Action).some((pattern) => actions.some((action) => glob(pattern, action, true))) &&
      (s.Resource === undefined || list(s.Resource).some((r) => glob(r, request.secretArn))),
  );
}

function principals(statement: ResourcePolicyStatement): string[] {
  return statement.Principal === '*' ? ['*'] : list(statement.Principal.AWS);
}

function list(value: string | string[]): string[] {
  return Array.isArray(value) ? value : [value];
}

/** IAM wildcards: `*` any run, `?` one character; action names ignore case, as in IAM. */
function glob(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(value);
}

function malformed(message: string): ValidationError {
  return new ValidationError(message, { details: { awsType: 'MalformedPolicyDocumentException' } });
}
