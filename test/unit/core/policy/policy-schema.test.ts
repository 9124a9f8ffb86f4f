import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../lambdas/core/errors.ts';
import { ROOT_POLICY } from '../../../../lambdas/core/policy/policy-engine.ts';
import {
  isReservedPolicyName,
  PolicyNameSchema,
  parsePolicyDocument,
} from '../../../../lambdas/core/policy/policy-schema.ts';

const valid = {
  name: 'app',
  description: 'the app',
  rules: [
    {
      path: 'secrets/{{principal.metadata.team}}/+/*',
      capabilities: ['read', 'list'],
      conditions: {
        sourceCidrs: ['10.0.0.0/8', '2001:db8::/32', '::ffff:10.0.0.0/104', '192.168.1.7'],
        timeOfDay: { start: '22:00', end: '06:00' },
        weekdays: ['mon', 'fri'],
        timezone: 'Europe/Paris',
        notAfter: '2030-01-31T18:00:00+01:00',
      },
    },
    { path: '*', capabilities: ['deny'] },
    { path: 'secrets/prod*', capabilities: ['sudo'] },
  ],
};

function ruleWith(rule: Record<string, unknown>) {
  return { name: 'app', rules: [{ path: 'secrets/x', capabilities: ['read'], ...rule }] };
}

function messageOf(input: unknown): string {
  try {
    parsePolicyDocument(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as Error).message;
  }
  throw new Error('expected a ValidationError');
}

describe('Function: parsePolicyDocument', () => {
  it('accepts a full document', () => {
    expect(parsePolicyDocument(valid)).toEqual(valid);
  });

  it('accepts the built-in root policy only when asked', () => {
    expect(parsePolicyDocument(ROOT_POLICY, { allowReserved: true }).name).toBe('root');
    expect(messageOf(ROOT_POLICY)).toContain('"root" is reserved');
    expect(isReservedPolicyName('root')).toBe(true);
    expect(isReservedPolicyName('roots')).toBe(false);
  });

  it.each([
    [{ rules: [] }, 'rules: a policy needs at least one rule'],
    [{ name: 'App' }, 'name: must be 1-128 characters'],
    [{ name: '-app' }, 'name: must be'],
    [{ name: 'a'.repeat(129) }, 'name: must be'],
    [{ extra: true }, 'Unrecognized key: "extra"'],
    [{ description: 'x'.repeat(1025) }, 'description: must be at most 1024 characters'],
  ])('names the offending document field (%#)', (override, message) => {
    expect(messageOf({ ...valid, ...override })).toContain(message);
  });

  it.each([
    ['secrets/*/db', "rules[0].path: '*' may only appear at the end of a pattern"],
    ['*secrets', "'*' may only appear at the end"],
    ['secrets/**', "'*' may only appear at the end"],
    ['', 'pattern is empty'],
    ['/secrets/x', "must not start with '/'"],
    ['secrets/x/', "must not end with '/'"],
    ['secrets//x', "empty segment ('//')"],
    ['secrets/../x', "'.' or '..' segment"],
    ['secrets/./x', "'.' or '..' segment"],
    ['secrets/+*', "'+*' is ambiguous"],
    ['secrets/%2e', "contains '%'"],
    ['secrets\\x', "contains '\\'"],
    ['secrets/a b', 'whitespace or a control character'],
    ['secrets/a\u200b', 'invisible'],
    ['secrets/{{principal.password}}', 'unknown template {{principal.password}}'],
    ['secrets/{{principal.metadata.}}', 'unknown template'],
    ['secrets/{{principal.id}', 'malformed template'],
    ['secrets/x'.repeat(120), 'longer than 1024'],
  ])('rejects pattern %j', (path, message) => {
    expect(messageOf(ruleWith({ path }))).toContain(message);
  });

  it.each([
    [{ capabilities: ['write'] }, 'rules[0].capabilities[0]: unknown capability "write"; expected one of create, read'],
    [{ capabilities: [] }, 'rules[0].capabilities: must list at least one capability'],
    [{ capabilities: 'read' }, 'rules[0].capabilities: must be an array'],
    [
      { conditions: { sourceCidrs: ['10.0.0.0/33'] } },
      'rules[0].conditions.sourceCidrs[0]: invalid CIDR "10.0.0.0/33"',
    ],
    [{ conditions: { sourceCidrs: ['10.0.0/8'] } }, 'invalid CIDR "10.0.0/8"'],
    [{ conditions: { sourceCidrs: ['2001:db8::/129'] } }, 'invalid CIDR'],
    [{ conditions: { sourceCidrs: ['10.0.0.0/-1'] } }, 'invalid CIDR'],
    [{ conditions: { sourceCidrs: ['10.0.0.0/8/8'] } }, 'invalid CIDR'],
    [{ conditions: { sourceCidrs: [] } }, 'sourceCidrs: must list at least one CIDR'],
    [{ conditions: { timeOfDay: { start: '9:00', end: '17:00' } } }, 'timeOfDay.start: must be HH:MM'],
    [{ conditions: { timeOfDay: { start: '09:00', end: '24:00' } } }, 'timeOfDay.end: must be HH:MM'],
    [{ conditions: { timeOfDay: { start: '09:60', end: '17:00' } } }, 'timeOfDay.start: must be HH:MM'],
    [{ conditions: { timeOfDay: { start: '09:00', end: '09:00' } } }, 'timeOfDay.end: start and end must differ'],
    [{ conditions: { timezone: 'Mars/Olympus' } }, 'rules[0].conditions.timezone: unknown time zone "Mars/Olympus"'],
    [{ conditions: { weekdays: ['monday'] } }, 'weekdays[0]: unknown weekday "monday"'],
    [{ conditions: { weekdays: [] } }, 'weekdays: must list at least one weekday'],
    [{ conditions: { notAfter: 'tomorrow' } }, 'notAfter: must be an ISO-8601 date-time'],
    [{ conditions: { notAfter: '2030-01-31' } }, 'notAfter: must be an ISO-8601 date-time'],
    [{ conditions: { sourceCidr: ['10.0.0.0/8'] } }, 'rules[0].conditions: Unrecognized key: "sourceCidr"'],
  ])('rejects rule %j', (override, message) => {
    expect(messageOf(ruleWith(override))).toContain(message);
  });

  it('rejects non-objects', () => {
    expect(messageOf('policy')).toContain('invalid policy document');
    expect(messageOf(null)).toContain('invalid policy document');
  });

  it('lists every issue in details', () => {
    try {
      parsePolicyDocument({ name: 'BAD', rules: [{ path: '', capabilities: ['nope'] }] });
      expect.unreachable();
    } catch (err) {
      expect((err as ValidationError).details).toEqual({
        issues: [
          { path: 'name', message: expect.any(String) },
          { path: 'rules[0].path', message: expect.stringContaining('pattern is empty') },
          { path: 'rules[0].capabilities[0]', message: expect.stringContaining('unknown capability') },
        ],
      });
    }
  });
});

describe('Schema: PolicyNameSchema', () => {
  it.each(['a', 'app', 'team.payments-v2', 'x_1', '0', 'a'.repeat(128)])('accepts %j', (name) => {
    expect(PolicyNameSchema.safeParse(name).success).toBe(true);
  });

  it.each(['', 'App', '.a', '_a', 'a b', 'a/b', 'a'.repeat(129), 'é'])('rejects %j', (name) => {
    expect(PolicyNameSchema.safeParse(name).success).toBe(false);
  });
});
