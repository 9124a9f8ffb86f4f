import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../lambdas/core/errors.ts';
import { derInteger, subjectKeyIdentifier, subjectName } from '../../../../lambdas/engines/pki/der.ts';

const hex = (buffer: ArrayBuffer) => Buffer.from(buffer).toString('hex');
const sha1 = (bytes: Buffer) => createHash('sha1').update(bytes).digest('hex');

describe('Function: derInteger', () => {
  it.each([
    [0, '020100'],
    [1, '020101'],
    [127, '02017f'],
    // A high first bit would read as negative: a zero byte goes first.
    [128, '02020080'],
    [255, '020200ff'],
    [256, '02020100'],
    [65_535, '020300ffff'],
    [2 ** 31, '02050080000000'],
  ])('encodes %i as %s', (value, expected) => {
    expect(hex(derInteger(value))).toBe(expected);
  });
});

describe('Function: subjectKeyIdentifier', () => {
  it('hashes the EC point (short DER lengths)', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const jwk = publicKey.export({ format: 'jwk' });
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
    expect(subjectKeyIdentifier(new Uint8Array(spki)).keyId).toBe(sha1(point));
  });

  it('hashes the RSAPublicKey (long DER lengths)', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const pkcs1 = publicKey.export({ type: 'pkcs1', format: 'der' });
    expect(subjectKeyIdentifier(new Uint8Array(spki)).keyId).toBe(sha1(pkcs1));
  });
});

describe('Function: subjectName', () => {
  it("keeps a CN holding ',' and '=' as one attribute", () => {
    const name = subjectName('a,O=Evil=1');
    expect(name.getField('CN')).toEqual(['a,O=Evil=1']);
    expect(name.getField('O')).toEqual([]);
  });

  it('refuses an empty CN and one over 64 characters', () => {
    expect(() => subjectName('')).toThrow(ValidationError);
    expect(() => subjectName('x'.repeat(65))).toThrow(/1–64 characters/);
    expect(subjectName('x'.repeat(64)).getField('CN')).toEqual(['x'.repeat(64)]);
  });
});
