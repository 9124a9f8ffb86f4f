import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../lambdas/core/errors.ts';
import { RotationStepError, TransientRotationError } from '../../../../lambdas/core/rotation/rotation-types.ts';
import {
  postgresAlternatingRotator,
  postgresSingleRotator,
} from '../../../../lambdas/engines/rotation/postgres/index.ts';
import { stepError } from '../../../../lambdas/engines/rotation/postgres/postgres-client.ts';
import {
  generatePassword,
  passwordForAlterRole,
} from '../../../../lambdas/engines/rotation/postgres/postgres-password.ts';
import { alternateOf, userPair } from '../../../../lambdas/engines/rotation/postgres/postgres-value.ts';
import { PostgresSessions } from '../../../../lambdas/engines/shared/postgres/postgres-sessions.ts';

const single = postgresSingleRotator(new PostgresSessions());
const alternating = postgresAlternatingRotator(new PostgresSessions());

function settingsError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as Error).message;
  }
  throw new Error('expected a ValidationError');
}

describe('PostgreSQL rotation settings', () => {
  it('applies the defaults', () => {
    expect(single.parseSettings(undefined)).toEqual({ passwordLength: 32 });
    expect(alternating.parseSettings({ adminSecret: 'db/admin' })).toEqual({
      adminSecret: 'db/admin',
      passwordLength: 32,
    });
  });

  it('accepts every documented setting', () => {
    expect(
      alternating.parseSettings({
        adminSecret: 'db/admin',
        passwordLength: 64,
        excludeCharacters: '%;',
        graceSeconds: 600,
      }),
    ).toEqual({ adminSecret: 'db/admin', passwordLength: 64, excludeCharacters: '%;', graceSeconds: 600 });
    expect(single.parseSettings({ adminSecret: 'db/admin' })).toEqual({ adminSecret: 'db/admin', passwordLength: 32 });
  });

  it('names the offending setting', () => {
    expect(settingsError(() => single.parseSettings({ passwordLength: 8 }))).toMatch(
      /^invalid postgres-single settings: passwordLength: /,
    );
    expect(settingsError(() => single.parseSettings({ passwordLength: 129 }))).toContain('passwordLength');
    expect(settingsError(() => alternating.parseSettings({}))).toMatch(
      /^invalid postgres-alternating settings: adminSecret: /,
    );
    expect(settingsError(() => alternating.parseSettings({ adminSecret: 'db//x' }))).toContain('adminSecret');
    expect(settingsError(() => alternating.parseSettings({ adminSecret: 'a', graceSeconds: -1 }))).toContain(
      'graceSeconds',
    );
    expect(settingsError(() => single.parseSettings({ graceSeconds: 5 }))).toContain('graceSeconds');
  });

  it('refuses excludeCharacters that leave too few characters to draw from', () => {
    const allButNine = [...Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i))].slice(9).join('');
    expect(settingsError(() => single.parseSettings({ excludeCharacters: allButNine }))).toMatch(
      /excludeCharacters: leaves fewer than 10 characters/,
    );
  });
});

describe('PostgreSQL rotation passwords', () => {
  it('draws passwords of the asked length, honouring excludeCharacters, with every remaining class', () => {
    for (let i = 0; i < 50; i++) {
      const pw = generatePassword(20, 'abcdefghijklmnopqrstuvwxyz0123456789');
      expect(pw).toHaveLength(20);
      expect(pw).not.toMatch(/[a-z0-9]/);
      expect(pw).toMatch(/[A-Z]/);
      expect(pw).toMatch(/[^A-Za-z0-9]/);
    }
    expect(new Set(Array.from({ length: 20 }, () => generatePassword(32))).size).toBe(20);
  });

  it('sends ASCII passwords as SCRAM verifiers and others as they are', async () => {
    const verifier = await passwordForAlterRole('plain-ascii-password');
    expect(verifier).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(verifier).not.toContain('plain-ascii-password');
    expect(await passwordForAlterRole('pässwörd')).toBe('pässwörd');
  });
});

describe('PostgreSQL alternating user names', () => {
  it('pairs a user with its clone and owner role, whichever of the two it is', () => {
    expect(userPair('app')).toEqual({ base: 'app', clone: 'app_clone', owner: 'app_owner' });
    expect(userPair('app_clone')).toEqual({ base: 'app', clone: 'app_clone', owner: 'app_owner' });
    expect(alternateOf('app')).toBe('app_clone');
    expect(alternateOf('app_clone')).toBe('app');
  });

  it('refuses names whose clone or owner role would not fit in 63 bytes', () => {
    expect(userPair('a'.repeat(57)).owner).toHaveLength(63);
    expect(() => userPair('a'.repeat(58))).toThrow(RotationStepError);
    expect(() => userPair('_clone')).toThrow(RotationStepError);
  });
});

describe('PostgreSQL rotation error classification', () => {
  const pgError = (code: string, message = 'server said no') => Object.assign(new Error(message), { code });

  it('retries unreachable, restarting, overloaded or busy servers', () => {
    const transient = [
      pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
      pgError('ETIMEDOUT'),
      pgError('57P01', 'terminating connection due to administrator command'),
      pgError('57P03', 'the database system is starting up'),
      pgError('53300', 'sorry, too many clients already'),
      pgError('55P03', 'canceling statement due to lock timeout'),
      pgError('XX000', 'tuple concurrently updated'),
      new Error('timeout expired'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
    ];
    for (const err of transient) expect(stepError('setSecret', err, [])).toBeInstanceOf(TransientRotationError);
  });

  it('fails at once on refused logins and other errors, naming the step, blanking passwords', () => {
    const refused = stepError(
      'testSecret: user "app"',
      pgError('28P01', 'password authentication failed for user "app" (hunter2)'),
      ['hunter2'],
    );
    expect(refused).toBeInstanceOf(RotationStepError);
    expect(refused.message).toBe(
      'testSecret: user "app": password authentication failed for user "app" ([redacted]) (28P01)',
    );
    expect(stepError('setSecret', pgError('42501', 'permission denied'), [])).toBeInstanceOf(RotationStepError);
    expect(stepError('setSecret', pgError('XX000', 'cache lookup failed'), [])).toBeInstanceOf(RotationStepError);
  });
});
