import { describe, expect, it } from 'vitest';
import {
  deniedByResourcePolicy,
  parseResourcePolicy,
  principalArn,
} from '../../../../lambdas/core/policy/resource-policy.ts';
import type { Principal } from '../../../../lambdas/core/principal.ts';

const awsType = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as { details?: Record<string, unknown> }).details?.awsType;
  }
  return undefined;
};

const doc = (statement: unknown) => JSON.stringify({ Version: '2012-10-17', Statement: statement });
const SECRET = 'arn:aws:secretsmanager:r:111122223333:secret:prod/db-abcdef';

describe('Function: parseResourcePolicy', () => {
  it('refuses documents that are not policies, naming where', () => {
    expect(awsType(() => parseResourcePolicy('{', { blockPublicPolicy: true }))).toBe(
      'MalformedPolicyDocumentException',
    );
    expect(
      awsType(() =>
        parseResourcePolicy(doc([{ Effect: 'Maybe', Principal: '*', Action: '*' }]), { blockPublicPolicy: false }),
      ),
    ).toBe('MalformedPolicyDocumentException');
    expect(
      awsType(() =>
        parseResourcePolicy(doc({ Effect: 'Deny', Principal: '*', Action: 's3:GetObject' }), {
          blockPublicPolicy: false,
        }),
      ),
    ).toBe('MalformedPolicyDocumentException');
  });

  it('refuses conditions rather than ignoring them', () => {
    const withCondition = doc({
      Effect: 'Deny',
      Principal: '*',
      Action: '*',
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });
    expect(awsType(() => parseResourcePolicy(withCondition, { blockPublicPolicy: false }))).toBe(
      'MalformedPolicyDocumentException',
    );
  });

  it('blocks public Allow statements unless told not to', () => {
    const open = doc({ Effect: 'Allow', Principal: '*', Action: 'secretsmanager:GetSecretValue' });
    expect(awsType(() => parseResourcePolicy(open, { blockPublicPolicy: true }))).toBe('PublicPolicyException');
    expect(parseResourcePolicy(open, { blockPublicPolicy: false })).toHaveLength(1);
  });
});

describe('Function: deniedByResourcePolicy', () => {
  const statements = parseResourcePolicy(
    doc([
      {
        Effect: 'Deny',
        Principal: { AWS: ['arn:aws:iam::111122223333:user/intern*'] },
        Action: 'secretsmanager:Get*',
        Resource: '*',
      },
      { Effect: 'Deny', Principal: '*', Action: 'secretsmanager:DeleteSecret', Resource: SECRET },
      { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'secretsmanager:*' },
    ]),
    { blockPublicPolicy: true },
  );

  it('denies the capabilities whose actions a Deny names, for the principals it names', () => {
    expect(
      deniedByResourcePolicy(statements, {
        principalArn: 'arn:aws:iam::111122223333:user/intern-7',
        capability: 'read',
        secretArn: SECRET,
      }),
    ).toBe(true);
    expect(
      deniedByResourcePolicy(statements, {
        principalArn: 'arn:aws:iam::111122223333:user/intern-7',
        capability: 'update',
        secretArn: SECRET,
      }),
    ).toBe(false);
    expect(
      deniedByResourcePolicy(statements, {
        principalArn: 'arn:aws:iam::111122223333:user/lead',
        capability: 'read',
        secretArn: SECRET,
      }),
    ).toBe(false);
  });

  it('applies Principal "*" to every caller, token holders included, but only for the named resource', () => {
    expect(
      deniedByResourcePolicy(statements, { principalArn: undefined, capability: 'delete', secretArn: SECRET }),
    ).toBe(true);
    expect(
      deniedByResourcePolicy(statements, { principalArn: undefined, capability: 'delete', secretArn: `${SECRET}x` }),
    ).toBe(false);
  });

  it('never lets an Allow widen access', () => {
    // The Allow to the account root names every action; it must not mark anything as denied or allowed here.
    expect(
      deniedByResourcePolicy(statements, {
        principalArn: 'arn:aws:iam::111122223333:root',
        capability: 'sudo',
        secretArn: SECRET,
      }),
    ).toBe(false);
  });
});

describe('Function: principalArn', () => {
  const base: Principal = {
    type: 'iam',
    id: 'arn:aws:iam::1:role/app',
    displayName: 'app',
    policies: [],
    metadata: {},
  };
  it('uses the IAM ARN, a user ARN for access keys, and nothing for tokens', () => {
    expect(principalArn(base, '1')).toBe('arn:aws:iam::1:role/app');
    expect(principalArn({ ...base, type: 'access-key', displayName: 'ci' }, '9')).toBe('arn:aws:iam::9:user/ci');
    expect(principalArn({ ...base, type: 'token' }, '9')).toBeUndefined();
  });
});
