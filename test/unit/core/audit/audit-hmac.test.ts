import { describe, expect, it } from 'vitest';
import { AuditHasher } from '../../../../lambdas/core/audit/audit-hmac.ts';

describe('Class: AuditHasher', () => {
  it('computes HMAC-SHA256 keyed by the salt (RFC 4231 test case 6)', () => {
    const hasher = new AuditHasher(Buffer.alloc(131, 0xaa));
    expect(hasher.hmac('Test Using Larger Than Block-Size Key - Hash Key First')).toBe(
      'hmac-sha256:60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
    );
  });

  it('hashes a string as its UTF-8 bytes, so strings and buffers agree', () => {
    const hasher = new AuditHasher(Buffer.alloc(32, 7));
    expect(hasher.hmac('pässword')).toBe(hasher.hmac(Buffer.from('pässword', 'utf8')));
  });

  it('gives different hashes under different salts', () => {
    const one = new AuditHasher(Buffer.alloc(32, 1));
    const two = new AuditHasher(Buffer.alloc(32, 2));
    expect(one.hmac('token')).not.toBe(two.hmac('token'));
    expect(one.hmac('token')).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
  });

  it('rejects a salt shorter than 32 bytes', () => {
    expect(() => new AuditHasher(Buffer.alloc(31))).toThrow(RangeError);
  });

  it('keeps its own copy of the salt', () => {
    const salt = Buffer.alloc(32, 9);
    const hasher = new AuditHasher(salt);
    const before = hasher.hmac('x');
    salt.fill(0);
    expect(hasher.hmac('x')).toBe(before);
  });
});
