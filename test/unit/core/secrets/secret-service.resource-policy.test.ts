import { describe, expect, it } from 'vitest';
import { setup } from './fixtures.ts';

const doc = (statement: unknown) => JSON.stringify({ Version: '2012-10-17', Statement: statement });
const awsTypeOf = async (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (err: { details?: Record<string, unknown> }) => err.details?.awsType,
  );

describe('Class: SecretService', () => {
  describe('putResourcePolicy and deleteResourcePolicy (AWS PutResourcePolicy, DeleteResourcePolicy)', () => {
    const deny = doc({ Effect: 'Deny', Principal: '*', Action: 'secretsmanager:DeleteSecret' });
    const open = doc({ Effect: 'Allow', Principal: '*', Action: 'secretsmanager:GetSecretValue' });

    it('stores a policy it can enforce, and removes it', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 's' });
      await secrets.putResourcePolicy({ secretId: 's', policy: deny });
      expect((await secrets.describe({ secretId: 's' })).resourcePolicy).toBe(deny);
      await secrets.deleteResourcePolicy({ secretId: 's' });
      expect((await secrets.describe({ secretId: 's' })).resourcePolicy).toBeUndefined();
    });

    it('refuses a malformed or (by default) public policy without storing it', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 's' });
      expect(await awsTypeOf(secrets.putResourcePolicy({ secretId: 's', policy: '{' }))).toBe(
        'MalformedPolicyDocumentException',
      );
      expect(await awsTypeOf(secrets.putResourcePolicy({ secretId: 's', policy: open }))).toBe('PublicPolicyException');
      expect((await secrets.describe({ secretId: 's' })).resourcePolicy).toBeUndefined();
      await secrets.putResourcePolicy({ secretId: 's', policy: open, blockPublicPolicy: false });
      expect((await secrets.describe({ secretId: 's' })).resourcePolicy).toBe(open);
    });
  });
});
