import { describe, expect, it } from 'vitest';
import {
  decodePageToken,
  encodePageToken,
  filtersIn,
  queryFingerprint,
} from '../../../../../lambdas/broker/routes/secretsmanager/list-secrets.ts';
import { creationOrderKey } from '../../../../../lambdas/core/secrets/secret-creation-order.ts';

const awsTypeOf = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (err) {
    return (err as { details?: Record<string, unknown> }).details?.awsType;
  }
  return undefined;
};

describe('ListSecrets NextToken', () => {
  const fingerprint = queryFingerprint(['q']);
  const position = creationOrderKey('asc', 'prod/db', 1);

  it('carries the position back for the same query, and nothing for the first page', () => {
    const token = encodePageToken(position, fingerprint);
    expect(decodePageToken(token, { order: 'asc', fingerprint })).toBe(position);
    expect(decodePageToken(undefined, { order: 'asc', fingerprint })).toBeUndefined();
  });

  it('refuses a token of another query, another order, a forged position or garbage as InvalidNextTokenException', () => {
    const other = encodePageToken(position, queryFingerprint(['other']));
    const forged = Buffer.from(JSON.stringify({ p: 'secrets/x', q: fingerprint })).toString('base64url');
    const tokens = [
      other,
      forged,
      'garbage',
      Buffer.from('{"c":"x"}').toString('base64url'),
      Buffer.from('null').toString('base64url'),
    ];
    for (const token of tokens) {
      expect(awsTypeOf(() => decodePageToken(token, { order: 'asc', fingerprint }))).toBe('InvalidNextTokenException');
    }
    const asc = encodePageToken(position, fingerprint);
    expect(awsTypeOf(() => decodePageToken(asc, { order: 'desc', fingerprint }))).toBe('InvalidNextTokenException');
  });
});

describe('ListSecrets filters on the wire', () => {
  it('maps Key and Values to the core filter', () => {
    expect(
      filtersIn([
        { Key: 'name', Values: ['prod/'] },
        { Key: 'all', Values: ['!x'] },
      ]),
    ).toEqual([
      { key: 'name', values: ['prod/'] },
      { key: 'all', values: ['!x'] },
    ]);
  });

  it('refuses a filter without values as AWS does (moto: test_with_no_filter_values)', () => {
    const refuse = () => filtersIn([{ Key: 'name', Values: ['a'] }, { Key: 'description' }]);
    expect(awsTypeOf(refuse)).toBe('InvalidParameterException');
    expect(refuse).toThrow(/^Invalid filter values for key: description$/);
  });
});
