import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../lambdas/core/errors.ts';
import {
  ClientRequestTokenSchema,
  CustomMetadataSchema,
  DescriptionSchema,
  isWellFormedText,
  ResourcePolicyTextSchema,
  SecretNameSchema,
  SecretValueSchema,
  StagingLabelSchema,
  TagKeySchema,
  TagsSchema,
  VersionIdSchema,
  VersionStagesSchema,
  validate,
} from '../../../../lambdas/core/secrets/secret-schema.ts';
import { bin, setup, str } from './fixtures.ts';

describe('Function: validate', () => {
  it.each([
    ['a//b', /empty segment/],
    ['../x', /'\.' or '\.\.' segment/],
    ['a/./b', /'\.' or '\.\.' segment/],
    ['/x', /start or end with '\/'/],
    ['x/', /start or end with '\/'/],
    ['bad name', /letters, digits/],
    ['', /must not be empty/],
    ['n'.repeat(513), /at most 512/],
  ])('refuses the name %j', (name, message) => {
    expect(() => validate(SecretNameSchema, name)).toThrow(ValidationError);
    expect(() => validate(SecretNameSchema, name)).toThrow(message);
  });

  it.each(['prod/db', 'a', 'A-z_0+9=.@/x', '.hidden/x..y', 'n'.repeat(512)])('accepts the name %j', (name) => {
    expect(validate(SecretNameSchema, name)).toBe(name);
  });

  it('accepts values of 1 to 65,536 bytes and refuses others', () => {
    expect(validate(SecretValueSchema, str('x'))).toEqual(str('x'));
    expect(validate(SecretValueSchema, str('é'.repeat(32_768))).kind).toBe('string');
    expect(() => validate(SecretValueSchema, str('é'.repeat(32_769)))).toThrow(/65536 bytes/);
    expect(() => validate(SecretValueSchema, str(''))).toThrow(/between 1 and 65536 bytes/);
    expect(validate(SecretValueSchema, bin(Buffer.alloc(65_536))).kind).toBe('binary');
    expect(() => validate(SecretValueSchema, bin(Buffer.alloc(65_537)))).toThrow(/65536 bytes/);
    expect(() => validate(SecretValueSchema, bin(Buffer.alloc(0)))).toThrow(ValidationError);
  });

  it('refuses a value that is both string and binary', () => {
    expect(() => validate(SecretValueSchema, { kind: 'string', string: 'x', binary: Buffer.from('y') })).toThrow(
      /not both/,
    );
  });

  it('refuses more than 50 tags and reserved aws: keys', () => {
    const tags = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
    expect(() => validate(TagsSchema, tags)).toThrow(/at most 50 tags/);
    expect(() => validate(TagsSchema, { 'aws:owner': 'me' })).toThrow(/reserved/);
    expect(() => validate(TagsSchema, { 'AWS:owner': 'me' })).toThrow(/reserved/);
    expect(() => validate(TagsSchema, { k: 'v'.repeat(257) })).toThrow(/at most 256/);
    expect(() => validate(TagsSchema, { ['k'.repeat(129)]: 'v' })).toThrow(/1–128/);
    expect(validate(TagsSchema, { k: '' })).toEqual({ k: '' });
  });

  it('refuses oversize custom metadata', () => {
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    expect(() => validate(CustomMetadataSchema, many)).toThrow(/at most 64 metadata/);
    expect(() => validate(CustomMetadataSchema, { k: 'v'.repeat(513) })).toThrow(/at most 512/);
  });

  it('checks client request tokens, descriptions and stage lists', () => {
    expect(() => validate(ClientRequestTokenSchema, 'short')).toThrow(/32–64/);
    expect(() => validate(ClientRequestTokenSchema, `${'a'.repeat(35)}!`)).toThrow(ValidationError);
    expect(validate(ClientRequestTokenSchema, crypto.randomUUID())).toHaveLength(36);
    expect(() => validate(DescriptionSchema, 'd'.repeat(2049))).toThrow(/2048/);
    expect(() => validate(VersionStagesSchema, [])).toThrow(/at least one/);
    expect(() => validate(VersionStagesSchema, ['x'.repeat(257)])).toThrow(/256/);
  });
});

describe('Function: isWellFormedText', () => {
  it.each([
    ['', true],
    ['plain', true],
    ['é ✓ 😀', true],
    ['\ud83d\ude00', true],
    ['\ud800', false],
    ['a\udc00b', false],
    ['\ude00\ud83d', false],
    ['😀\ud83d', false],
  ])('%j is well-formed: %s', (text, expected) => {
    expect(isWellFormedText(text)).toBe(expected);
  });
});

describe('Well-formed Unicode', () => {
  const lone = 'pass\ud800word';

  it.each([
    ['a string value', SecretValueSchema, str(lone)],
    ['description', DescriptionSchema, lone],
    ['tags', TagsSchema, { k: lone }],
    ['tags', TagsSchema, { [lone]: 'v' }],
    ['metadata', CustomMetadataSchema, { k: lone }],
    ['a staging label', StagingLabelSchema, lone],
    ['a tag key', TagKeySchema, lone],
    ['versionId', VersionIdSchema, lone],
    ['resourcePolicy', ResourcePolicyTextSchema, `{"x":"${lone}"}`],
  ])('refuses a lone surrogate in %s, naming the field and not the value', (what, schema, input) => {
    const err = (() => {
      try {
        validate(schema as never, input);
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ValidationError);
    expect(err?.message).toContain(`${what}`);
    expect(err?.message).toContain('well-formed Unicode');
    expect(err?.message).not.toContain('pass');
  });

  it('keeps surrogate pairs (characters beyond the BMP) as they are', () => {
    expect(validate(SecretValueSchema, str('🔑 key'))).toEqual(str('🔑 key'));
    expect(validate(TagsSchema, { '🔑': '🔒' })).toEqual({ '🔑': '🔒' });
  });
});

describe('Class: SecretService', () => {
  it('refuses a lone surrogate in any stored string, storing nothing', async () => {
    const { secrets, store } = setup();
    const lone = '\ud800';
    await expect(secrets.create({ name: 'x', value: str(lone) })).rejects.toThrow(/well-formed/);
    await expect(secrets.create({ name: 'x', description: lone })).rejects.toThrow(/well-formed/);
    await expect(secrets.put({ secretId: 'x', value: str(lone), createIfMissing: true })).rejects.toThrow(
      /well-formed/,
    );
    await secrets.create({ name: 'y', value: str('v') });
    await expect(secrets.update({ secretId: 'y', addTags: { k: lone } })).rejects.toThrow(/well-formed/);
    await expect(secrets.update({ secretId: 'y', metadata: { k: lone } })).rejects.toThrow(/well-formed/);
    await expect(secrets.update({ secretId: 'y', resourcePolicy: lone })).rejects.toThrow(/well-formed/);
    await expect(secrets.put({ secretId: 'y', value: str('v2'), versionStages: [lone] })).rejects.toThrow(
      /well-formed/,
    );
    expect(await store.get('secrets', 'x')).toBeUndefined();
    expect((await secrets.describe({ secretId: 'y' })).tags).toEqual({});
  });

  it('validates every input before touching the store', async () => {
    const { secrets } = setup();
    await expect(secrets.create({ name: 'a//b' })).rejects.toThrow(ValidationError);
    await expect(secrets.create({ name: 'x', tags: { 'aws:x': '1' } })).rejects.toThrow(ValidationError);
    await expect(secrets.create({ name: 'x', value: str('v'.repeat(65_537)) })).rejects.toThrow(ValidationError);
    await expect(secrets.create({ name: 'x', value: str('v'), clientRequestToken: 'short' })).rejects.toThrow(
      ValidationError,
    );
    await expect(secrets.get({ secretId: '../x' })).rejects.toThrow(ValidationError);
    await expect(secrets.put({ secretId: 'x/', value: str('v'), createIfMissing: true })).rejects.toThrow(
      ValidationError,
    );
    expect((await secrets.list({ recursive: true })).entries).toEqual([]);
  });
});
