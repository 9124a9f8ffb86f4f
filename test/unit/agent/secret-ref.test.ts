import { describe, expect, it } from 'vitest';
import { CliError, ExitCode } from '../../../lambdas/agent/exit-codes.ts';
import { parseEnvBinding, parseSecretRef, selectField } from '../../../lambdas/agent/secret-ref.ts';

describe('Function: parseSecretRef', () => {
  it.each([
    ['prod/db', { name: 'prod/db', stage: 'AWSCURRENT' }],
    ['prod/db#password', { name: 'prod/db', field: 'password', stage: 'AWSCURRENT' }],
    ['prod/db@AWSPREVIOUS', { name: 'prod/db', stage: 'AWSPREVIOUS' }],
    ['prod/db#password@AWSPENDING', { name: 'prod/db', field: 'password', stage: 'AWSPENDING' }],
    ['ops/a@b.com@AWSCURRENT', { name: 'ops/a@b.com', stage: 'AWSCURRENT' }],
  ])('parses %s', (text, expected) => {
    expect(parseSecretRef(text)).toEqual(expected);
  });

  it.each(['', '#field', 'prod/db#', 'prod/db@', '@AWSCURRENT'])('rejects "%s" as usage', (text) => {
    expect(() => parseSecretRef(text)).toThrow(expect.objectContaining({ exitCode: ExitCode.usage }));
  });
});

describe('Function: parseEnvBinding', () => {
  it('splits NAME=reference', () => {
    expect(parseEnvBinding('DB_PASSWORD=prod/db#password')).toEqual({
      variable: 'DB_PASSWORD',
      ref: { name: 'prod/db', field: 'password', stage: 'AWSCURRENT' },
    });
  });

  it.each(['prod/db', '=prod/db', '1X=prod/db', 'A-B=prod/db'])('rejects "%s"', (text) => {
    expect(() => parseEnvBinding(text)).toThrow(CliError);
  });
});

describe('Function: selectField', () => {
  const ref = { name: 'prod/db', stage: 'AWSCURRENT' };

  it('returns the whole SecretString without a field', () => {
    expect(selectField(ref, 'not json')).toBe('not json');
  });

  it('returns strings as they are and other JSON values as JSON', () => {
    const secret = JSON.stringify({ password: 'p"w', port: 5432, tls: { on: true }, nothing: null });
    expect(selectField({ ...ref, field: 'password' }, secret)).toBe('p"w');
    expect(selectField({ ...ref, field: 'port' }, secret)).toBe('5432');
    expect(selectField({ ...ref, field: 'tls' }, secret)).toBe('{"on":true}');
    expect(selectField({ ...ref, field: 'nothing' }, secret)).toBe('null');
  });

  it('reports a missing field as not found, without the value', () => {
    const run = () => selectField({ ...ref, field: 'user' }, '{"password":"hunter2"}');
    expect(run).toThrow(expect.objectContaining({ exitCode: ExitCode.notFound }));
    expect(run).toThrow(/prod\/db has no field "user"/);
    expect(run).not.toThrow(/hunter2/);
  });

  it.each(['plain-text-value', '[1,2]', '"s"', '42'])('reports %s as not a JSON object', (secret) => {
    expect(() => selectField({ ...ref, field: 'x' }, secret)).toThrow(/not a JSON object/);
  });

  it('does not read inherited properties', () => {
    expect(() => selectField({ ...ref, field: 'toString' }, '{}')).toThrow(/no field/);
  });
});
