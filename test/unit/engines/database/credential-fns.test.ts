import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../lambdas/core/errors.ts';
import {
  generatePassword,
  renderUsername,
  validateUsernameTemplate,
} from '../../../../lambdas/engines/database/credential-fns.ts';
import { PasswordPolicySchema } from '../../../../lambdas/engines/database/database-types.ts';

const NOW = Date.UTC(2026, 0, 1);

describe('renderUsername', () => {
  it('renders the role, random characters and time into a [a-z0-9_] name', () => {
    expect(renderUsername('v_{{role}}_{{random:8}}', 'app-read', NOW)).toMatch(/^v_app_read_[a-z0-9]{8}$/);
    expect(renderUsername('u_{{unix_time}}', 'x', NOW)).toBe(`u_${NOW / 1000}`);
  });

  it('draws fresh random characters each time', () => {
    const names = new Set(Array.from({ length: 50 }, () => renderUsername('v_{{random:12}}', 'x', NOW)));
    expect(names.size).toBe(50);
  });

  it.each([
    ['x"; DROP ROLE admin; --'],
    ['v_{{role}}"'],
    ["v_'{{random:4}}"],
    ['V_UPPER'],
    ['v_{{password}}'],
    ['v_{{random:99}}'],
    ['v {{role}}'],
  ])('refuses the template %j', (template) => {
    expect(() => validateUsernameTemplate(template)).toThrow(ValidationError);
    expect(() => renderUsername(template, 'app', NOW)).toThrow(ValidationError);
  });

  it('refuses a rendering longer than 63 characters instead of letting PostgreSQL truncate it', () => {
    expect(() => renderUsername('v_{{role}}_{{random:32}}', 'a'.repeat(40), NOW)).toThrow('at most 63');
  });

  it('refuses a hostile role name even through a valid template', () => {
    expect(() => renderUsername('v_{{role}}', 'x"; DROP ROLE admin; --', NOW)).toThrow(ValidationError);
  });
});

describe('generatePassword', () => {
  it('meets the length and the minimum of every character class', () => {
    const policy = PasswordPolicySchema.parse({
      length: 20,
      min_lower: 3,
      min_upper: 3,
      min_digits: 3,
      min_symbols: 3,
    });
    for (let i = 0; i < 200; i++) {
      const password = generatePassword(policy);
      expect(password).toHaveLength(20);
      expect(password.replace(/[^a-z]/g, '').length).toBeGreaterThanOrEqual(3);
      expect(password.replace(/[^A-Z]/g, '').length).toBeGreaterThanOrEqual(3);
      expect(password.replace(/[^0-9]/g, '').length).toBeGreaterThanOrEqual(3);
      expect(password.replace(/[a-zA-Z0-9]/g, '').length).toBeGreaterThanOrEqual(3);
    }
  });

  it('leaves out a class whose minimum is zero', () => {
    const policy = PasswordPolicySchema.parse({
      length: 64,
      min_lower: 1,
      min_upper: 0,
      min_digits: 0,
      min_symbols: 0,
    });
    expect(generatePassword(policy)).toMatch(/^[a-z]{64}$/);
  });

  it('uses only the configured symbols', () => {
    const policy = PasswordPolicySchema.parse({
      length: 40,
      min_lower: 0,
      min_upper: 0,
      min_digits: 0,
      min_symbols: 40,
      symbols: `'"`,
    });
    expect(generatePassword(policy)).toMatch(/^['"]{40}$/);
  });

  it('refuses policies whose minimums exceed the length, or that require nothing', () => {
    expect(PasswordPolicySchema.safeParse({ length: 12, min_lower: 10, min_upper: 10 }).success).toBe(false);
    expect(PasswordPolicySchema.safeParse({ min_lower: 0, min_upper: 0, min_digits: 0, min_symbols: 0 }).success).toBe(
      false,
    );
    expect(PasswordPolicySchema.safeParse({ length: 8 }).success).toBe(false);
  });
});
