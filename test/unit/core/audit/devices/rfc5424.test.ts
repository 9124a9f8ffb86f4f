import { describe, expect, it } from 'vitest';
import { formatRfc5424, octetCounted } from '../../../../../lambdas/core/audit/devices/rfc5424.ts';

const record = { type: 'request', time: '2026-01-02T03:04:05.000Z' };

describe('Function: formatRfc5424', () => {
  it('writes the RFC 5424 header with the JSON record as MSG', () => {
    expect(formatRfc5424({ facility: 'auth', appName: 'coffer', hostname: 'node-1' }, record, '{"a":1}')).toBe(
      '<38>1 2026-01-02T03:04:05.000Z node-1 coffer - request - {"a":1}',
    );
  });

  it('computes PRI from the facility and a notice severity for refusals and errors', () => {
    const local7 = { facility: 'local7', appName: 'coffer' } as const;
    expect(formatRfc5424(local7, { ...record, outcome: 'denied' }, '{}')).toMatch(/^<189>1 /);
    expect(formatRfc5424(local7, { ...record, outcome: 'ok' }, '{}')).toMatch(/^<190>1 /);
    expect(formatRfc5424({ facility: 'kern', appName: 'x' }, record, '{}')).toMatch(/^<6>1 /);
  });

  it('writes the nil value for a header field that RFC 5424 would not allow', () => {
    expect(formatRfc5424({ facility: 'auth', appName: 'two words', hostname: 'h\u00e9' }, record, '{}')).toBe(
      '<38>1 2026-01-02T03:04:05.000Z - - - request - {}',
    );
  });
});

describe('Function: octetCounted', () => {
  it('prefixes the length in bytes, not characters (RFC 6587)', () => {
    expect(octetCounted('<38>1 é').toString('utf8')).toBe('8 <38>1 é'); // 7 characters, 8 bytes;
  });
});
