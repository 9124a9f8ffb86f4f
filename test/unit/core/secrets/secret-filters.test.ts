import { describe, expect, it } from 'vitest';
import { matchesFilters, type SecretFilter, splitWords } from '../../../../lambdas/core/secrets/secret-filters.ts';
import type { SecretDescription } from '../../../../lambdas/core/secrets/secret-types.ts';

/**
 * Each case is an example AWS documents or one that moto or LocalStack recorded against real AWS:
 * - "the user guide": https://docs.aws.amazon.com/secretsmanager/latest/userguide/manage_search-secret.html
 * - "the API reference": https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_Filter.html
 * - "moto": getmoto/moto tests/test_secretsmanager/test_list_secrets.py, the cases marked `@aws_verified`
 * - "LocalStack": localstack tests/aws/services/secretsmanager/test_secretsmanager.py,
 *   `test_list_secrets_filtering` (`@markers.aws.validated`)
 */
function secret(name: string, extra: Partial<SecretDescription> = {}): SecretDescription {
  return {
    arn: `arn:aws:secretsmanager:r:1:secret:${name}-abcdef`,
    name,
    description: '',
    tags: {},
    metadata: {},
    createdAt: 1,
    updatedAt: 1,
    versionIdsToStages: {},
    region: 'r',
    ...extra,
  };
}

/** The names among `secrets` that `filters` select. */
function select(secrets: readonly SecretDescription[], ...filters: SecretFilter[]): string[] {
  return secrets.filter((s) => matchesFilters(s, filters)).map((s) => s.name);
}

const described = (name: string, description: string) => secret(name, { description });

describe('ListSecrets filters: name', () => {
  it('matches the beginning of the whole name, case-sensitive (the user guide: Name: Data)', () => {
    const secrets = [secret('DatabaseSecret'), secret('databaseSecret'), secret('MyData')];
    expect(select(secrets, { key: 'name', values: ['Data'] })).toEqual(['DatabaseSecret']);
  });

  it('does not split a name into words (LocalStack: "testing1 one" finds no testing1/one)', () => {
    const secrets = [secret('testing1/one-1'), secret('/testing2/two-1'), secret('testing3/three-1')];
    expect(select(secrets, { key: 'name', values: ['testing1 one'] })).toEqual([]);
    expect(select(secrets, { key: 'name', values: ['one'] })).toEqual([]);
  });

  it('matches a separator at the start (LocalStack: name "/" and "!/")', () => {
    const secrets = [
      secret('testing1/one-1'),
      secret('/testing2/two-1'),
      secret('testing3/three-1'),
      secret('/testing4/four-1'),
    ];
    expect(select(secrets, { key: 'name', values: ['/'] })).toEqual(['/testing2/two-1', '/testing4/four-1']);
    expect(select(secrets, { key: 'name', values: ['!/'] })).toEqual(['testing1/one-1', 'testing3/three-1']);
  });

  it('takes any of several values (moto: name foo or bar)', () => {
    const secrets = [secret('foo'), secret('bar'), secret('baz')];
    expect(select(secrets, { key: 'name', values: ['foo', 'bar'] })).toEqual(['foo', 'bar']);
  });
});

describe('ListSecrets filters: description', () => {
  it('matches words, not case-sensitive (the user guide: Description: My Description)', () => {
    const secrets = [
      described('a', 'My Description'),
      described('b', 'my description'),
      described('c', 'My basic description'),
      described('d', 'Description of my secret'),
      described('e', 'My secret'),
      described('f', 'Mydescription'),
    ];
    expect(select(secrets, { key: 'description', values: ['My Description'] })).toEqual(['a', 'b', 'c', 'd']);
  });

  it('matches the beginning of a word, not the middle (LocalStack: "a", "a secret", "!a", "!c")', () => {
    const secrets = [
      described('one', 'a secret'),
      described('two', 'an secret'),
      described('three', 'asecret'),
      described('four', 'thesecret'),
    ];
    expect(select(secrets, { key: 'description', values: ['a'] })).toEqual(['one', 'two', 'three']);
    expect(select(secrets, { key: 'description', values: ['a secret'] })).toEqual(['one', 'two']);
    expect(select(secrets, { key: 'description', values: ['!a'] })).toEqual(['four']);
    expect(select(secrets, { key: 'description', values: ['!c'] })).toEqual(['one', 'two', 'three', 'four']);
  });

  it('splits at spaces whatever the case (the user guide: the search ignores spaces and case)', () => {
    const secrets = [described('one', 'a secret'), described('two', 'A Secret Of Mine'), described('three', 'asecret')];
    expect(select(secrets, { key: 'description', values: ['A SECRET'] })).toEqual(['one', 'two']);
  });

  it('requires every word of a value with spaces (moto: "one two", "o t", "t")', () => {
    const secrets = [
      described('foo', 'one two'),
      described('bar', 'one and two'),
      described('baz', 'one'),
      described('qux', 'two'),
      described('none', 'unrelated'),
    ];
    expect(select(secrets, { key: 'description', values: ['one two'] })).toEqual(['foo', 'bar']);
    expect(select(secrets, { key: 'description', values: ['o t'] })).toEqual(['foo', 'bar']);
    expect(select(secrets, { key: 'description', values: ['t'] })).toEqual(['foo', 'bar', 'qux']);
  });

  it('combines two filters with the same key: both must hold (moto: description one, description two)', () => {
    const secrets = [
      described('foo', 'one two'),
      described('bar', 'one'),
      described('baz', 'two'),
      described('qux', 'unrelated'),
    ];
    expect(select(secrets, { key: 'description', values: ['one'] }, { key: 'description', values: ['two'] })).toEqual([
      'foo',
    ]);
  });

  it('ANDs filters of different keys (LocalStack: description a and name secret select nothing)', () => {
    const secrets = [described('testing1/one-1', 'a secret'), described('/testing2/two-1', 'an secret')];
    expect(select(secrets, { key: 'description', values: ['a'] }, { key: 'name', values: ['secret'] })).toEqual([]);
    expect(select(secrets, { key: 'description', values: ['a'] }, { key: 'name', values: ['an'] })).toEqual([]);
  });

  it('holds a negated value beside a plain one as an alternative (moto: "one", "!two")', () => {
    const secrets = [
      described('foo', 'one two'),
      described('bar', 'one and two'),
      described('baz', 'one'),
      described('qux', 'two'),
      described('none', 'unrelated'),
    ];
    expect(select(secrets, { key: 'description', values: ['one', '!two'] })).toEqual(['foo', 'bar', 'baz', 'none']);
    expect(select(secrets, { key: 'description', values: ['!o'] })).toEqual(['qux', 'none']);
  });
});

describe('ListSecrets filters: tag-key and tag-value', () => {
  it('match the beginning of a tag key or value, case-sensitive (the user guide: Tag key: Prod)', () => {
    const tagged = (name: string, key: string) => secret(name, { tags: { [key]: 'x' } });
    const keys = [tagged('a', 'Production'), tagged('b', 'Prod1'), tagged('c', 'prod'), tagged('d', '1 Prod')];
    expect(select(keys, { key: 'tag-key', values: ['Prod'] })).toEqual(['a', 'b']);
    const valued = (name: string, value: string) => secret(name, { tags: { k: value } });
    const values = [valued('a', 'Production'), valued('b', 'Prod1'), valued('c', 'prod'), valued('d', '1 Prod')];
    expect(select(values, { key: 'tag-value', values: ['Prod'] })).toEqual(['a', 'b']);
  });

  it('AND across keys (moto: tag-key right and tag-value right)', () => {
    const secrets = [
      secret('foo', { tags: { right: 'right' } }),
      secret('bar', { tags: { right: 'wrong' } }),
      secret('baz', { tags: { wrong: 'right' } }),
      secret('qux', { tags: { wrong: 'wrong' } }),
    ];
    expect(select(secrets, { key: 'tag-key', values: ['right'] }, { key: 'tag-value', values: ['right'] })).toEqual([
      'foo',
    ]);
  });

  it('negates over every tag: "!env" selects secrets with no env tag, untagged ones included', () => {
    // The "catch-all" BatchGetSecretValue filter (Stratus Red Team's aws.credential-access.secretsmanager-batch-
    // retrieve-secrets) relies on `tag-key: !<a key nobody uses>` selecting every secret.
    const secrets = [
      secret('a', { tags: { env: 'prod', team: 'x' } }),
      secret('b', { tags: { team: 'y' } }),
      secret('c'),
    ];
    expect(select(secrets, { key: 'tag-key', values: ['!env'] })).toEqual(['b', 'c']);
    expect(select(secrets, { key: 'tag-key', values: ['!tagKeyThatWillNeverExist'] })).toEqual(['a', 'b', 'c']);
  });
});

describe('ListSecrets filters: all', () => {
  // moto's `test_with_all_filter` (AWS-verified), with the unique suffix it appends spelt `x1`.
  const secrets = [
    secret('SecretOnex1'),
    secret('SecretTwox1', { description: 'DescTwo' }),
    secret('Thirdsecretx1'),
    secret('SecretFTagx1', { tags: { '1': 'foo' } }),
    secret('SecretFValuex1', { tags: { foo: 'v' } }),
    secret('nonex1'),
  ];
  const all = (...values: string[]) => select(secrets, { key: 'all', values });

  it('searches the name, the description and every tag key and value, ignoring case', () => {
    expect(all('SecretOne')).toEqual(['SecretOnex1']);
    expect(all('foo')).toEqual(['SecretFTagx1', 'SecretFValuex1']);
    const secretWord = ['SecretOnex1', 'SecretTwox1', 'SecretFTagx1', 'SecretFValuex1'];
    expect(all('Secret')).toEqual(secretWord);
    expect(all('secret')).toEqual(secretWord);
    expect(all('sec')).toEqual(secretWord);
  });

  it('matches the beginning of a word only, and every word of the value', () => {
    expect(all('ret')).toEqual([]);
    expect(all('SomeSecret')).toEqual([]);
    expect(all('d')).toEqual(['SecretTwox1']);
    expect(all('d t')).toEqual(['SecretTwox1']);
    expect(all('t')).toEqual(['SecretTwox1', 'Thirdsecretx1', 'SecretFTagx1']);
  });

  it('requires the words of one value in the same field (the 2020 AWS blog: "secrets for")', () => {
    const pair = [
      secret('one', { description: 'secrets for billing' }),
      secret('two', { description: 'secrets', tags: { for: 'x' } }),
    ];
    expect(select(pair, { key: 'all', values: ['secrets for'] })).toEqual(['one']);
  });

  it('splits names at separators and case changes (moto: test_with_all_filter_special_characters)', () => {
    const names = [
      'prod/AppBeta/u1',
      'prod_AppBeta_u1',
      'prod+AppBeta+u1',
      'prod=AppBeta=u1',
      'prod.AppBeta.u1',
      'prod@AppBeta@u1',
      'prod-AppBeta-u1',
    ];
    const mixed = 'prod-AppBeta/u1';
    const upper = 'uat/COMPANY/u1';
    const partial = 'uat/COMPANYthings/u1';
    const special = [...names, mixed, upper, partial].map((n) => secret(n));
    const find = (value: string) => select(special, { key: 'all', values: [value] });
    expect(find('AppBeta')).toEqual(names);
    expect(find('Beta')).toEqual(names);
    expect(
      select(
        names.map((n) => secret(n)),
        { key: 'all', values: ['AppBeta', 'prod'] },
      ),
    ).toEqual(names);
    expect(find('+')).toEqual([]);
    // Two kinds of separator: the name stays one word, so not even its suffix finds it (moto's note on
    // `prod-AppBeta/…`: "this secret is never found"); only a value it begins with does.
    expect(find('prod-AppBeta/u')).toEqual([mixed]);
    expect(find('u1')).toEqual([...names, upper, partial]);
    expect(find('company')).toEqual([upper]);
    expect(find('things')).toEqual([]);
    expect(find('Ythings')).toEqual([partial]);
    expect(find('N')).toEqual([]);
    expect(find('pany')).toEqual([]);
  });
});

describe('ListSecrets filters: primary-region and owning-service', () => {
  const plain = secret('plain');
  const replica: SecretDescription = { ...secret('replica'), region: 'eu-west-1', primaryRegion: 'us-east-1' };
  const primary: SecretDescription = {
    ...secret('primary'),
    region: 'us-east-1',
    replication: [{ region: 'eu-west-1', status: 'InSync' }],
  };

  it('primary-region matches the beginning of a replicated secret primary region, case-sensitive', () => {
    const pick = (...values: string[]) =>
      [plain, replica, primary]
        .filter((s) => matchesFilters(s, [{ key: 'primary-region', values }]))
        .map((s) => s.name);
    expect(pick('us-east-1')).toEqual(['replica', 'primary']);
    expect(pick('us-east')).toEqual(['replica', 'primary']);
    expect(pick('US-EAST-1')).toEqual([]);
    expect(pick('!us-east-1')).toEqual(['plain']);
  });

  it('primary-region never matches a secret that is not replicated (moto filter_primary_region)', () => {
    expect(matchesFilters(plain, [{ key: 'primary-region', values: [plain.region] }])).toBe(false);
  });

  it('owning-service matches nothing: no Coffer secret is managed by another service (moto: n/a)', () => {
    expect(matchesFilters(plain, [{ key: 'owning-service', values: ['n/a'] }])).toBe(false);
    expect(matchesFilters(plain, [{ key: 'owning-service', values: ['rds'] }])).toBe(false);
    expect(matchesFilters(plain, [{ key: 'owning-service', values: ['!rds'] }])).toBe(true);
  });
});

describe('splitWords', () => {
  it.each([
    // moto's `test_word_splitter`
    ['test', ['test']],
    ['my test', ['my', 'test']],
    ['Mytest', ['Mytest']],
    ['MyTest', ['My', 'Test']],
    ['MyTestPhrase', ['My', 'Test', 'Phrase']],
    ['myTest', ['my', 'Test']],
    ['my/test', ['my', 'test']],
    // the cases above, spelt out
    ['/', []],
    ['/testing2/two', ['testing2', 'two']],
    ['prod-AppBeta/u1', ['prod-AppBeta/u1']],
    ['COMPANYthings', ['COMPAN', 'Ythings']],
    // whitespace separates words whatever their case
    ['A SECRET', ['A', 'SECRET']],
    ['  two\tspaced  words ', ['two', 'spaced', 'words']],
    ['db / prod', ['db', 'prod']],
    ['', []],
  ])('%j → %j', (value, expected) => {
    expect(splitWords(value)).toEqual(expected);
  });
});
