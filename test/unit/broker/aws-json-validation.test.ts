import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { awsJsonValidationError, memberPath } from '../../../lambdas/broker/aws-json-validation.ts';
import { toAwsJsonError } from '../../../lambdas/broker/http-errors.ts';
import { CreateSecretRequest, ListSecretsRequest } from '../../../lambdas/broker/routes/secretsmanager/shapes.ts';

const SENSITIVE = ['SecretString', 'SecretBinary'];

function answer(schema: z.ZodType, input: unknown) {
  const parsed = schema.safeParse(input);
  if (parsed.success) throw new Error('expected a failure');
  const { type, message } = toAwsJsonError(awsJsonValidationError(parsed.error, input, SENSITIVE));
  return { type, message };
}

describe('Function: awsJsonValidationError', () => {
  it('names members in lower camel case with lists counted from 1', () => {
    expect(memberPath(['Filters', 0, 'Key'])).toBe('filters.1.member.key');
    expect(memberPath(['RotationRules', 'AutomaticallyAfterDays'])).toBe('rotationRules.automaticallyAfterDays');
  });

  it('lists every broken constraint in one ValidationException', () => {
    expect(answer(ListSecretsRequest, { MaxResults: 101, Filters: [{ Key: 'name', Values: [] }] })).toEqual({
      type: 'ValidationException',
      message:
        '2 validation errors detected: ' +
        "Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100; " +
        "Value '[]' at 'filters.1.member.values' failed to satisfy constraint: Member must have length greater than or equal to 1",
    });
  });

  it('never quotes a secret value', () => {
    const value = 'x'.repeat(65_537);
    const schema = z.looseObject({ SecretString: z.string().max(65_536) });
    const { message } = answer(schema, { SecretString: value });
    expect(message).toBe(
      "1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to 65536",
    );
  });

  it('takes JSON null for an absent member', () => {
    expect(answer(CreateSecretRequest, { Name: null }).message).toBe(
      "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null",
    );
  });

  it('answers a value of the wrong JSON type with a SerializationException', () => {
    expect(answer(CreateSecretRequest, { Name: 5 })).toEqual({
      type: 'SerializationException',
      message: 'NUMBER_VALUE can not be converted to a String',
    });
    expect(answer(CreateSecretRequest, { Name: 'a', Tags: {} }).message).toBe(
      'Start of structure or map found where not expected.',
    );
  });

  it("gives the name rule's own answer, before any other", () => {
    expect(answer(CreateSecretRequest, { Name: `${'a b'.repeat(200)}` })).toEqual({
      type: 'ValidationException',
      message:
        'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
    });
  });
});
