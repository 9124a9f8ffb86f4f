import { describe, expect, it } from 'vitest';
import { aliasName, keyIdOfArn, parseKmsKeyId } from '../../../../lambdas/core/crypto/kms-key-id.ts';
import { ValidationError } from '../../../../lambdas/core/errors.ts';

const ID = '1234abcd-12ab-34cd-56ef-1234567890ab';

describe('Function: parseKmsKeyId', () => {
  it('reads the four forms AWS accepts', () => {
    expect(parseKmsKeyId('alias/payments')).toEqual({ kind: 'alias', name: 'payments' });
    expect(parseKmsKeyId(ID)).toEqual({ kind: 'key', id: ID });
    expect(parseKmsKeyId(`arn:aws:kms:eu-west-1:111122223333:key/${ID}`)).toEqual({
      kind: 'key',
      id: ID,
      region: 'eu-west-1',
      account: '111122223333',
    });
    expect(parseKmsKeyId('arn:aws:kms:eu-west-1:111122223333:alias/team/payments')).toEqual({
      kind: 'alias',
      name: 'team/payments',
      region: 'eu-west-1',
      account: '111122223333',
    });
  });

  it('reads a bare name as a key id, never an alias, as AWS does', () => {
    expect(parseKmsKeyId('payments')).toEqual({ kind: 'key', id: 'payments' });
  });

  it('refuses what is none of them', () => {
    for (const bad of [
      '',
      'alias/',
      'alias//x',
      'alias/x/',
      'key/ab',
      'arn:aws:kms:eu-west-1:1:key/x',
      'a b',
      'x'.repeat(129),
    ]) {
      expect(parseKmsKeyId(bad), bad).toBeUndefined();
    }
  });

  it('finds the key id of a key ARN only', () => {
    expect(keyIdOfArn(`arn:aws:kms:eu-west-1:111122223333:key/${ID}`)).toBe(ID);
    expect(keyIdOfArn(ID)).toBeUndefined();
    expect(keyIdOfArn('arn:aws:kms:eu-west-1:111122223333:alias/x')).toBeUndefined();
  });
});

describe('Function: aliasName', () => {
  it('takes an alias with or without its prefix, and refuses the reserved aws/ names', () => {
    expect(aliasName('alias/payments')).toBe('payments');
    expect(aliasName('payments')).toBe('payments');
    expect(() => aliasName('alias/aws/secretsmanager')).toThrow(ValidationError);
    expect(() => aliasName('has space')).toThrow(ValidationError);
  });
});
