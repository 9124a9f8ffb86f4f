import { generateKeyPairSync, sign, webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { derToP1363 } from '../../../../lambdas/engines/pki/external-signer.ts';

describe('derToP1363', () => {
  it.each([
    ['prime256v1', 'P-256', 'sha256', 'SHA-256', 32],
    ['secp384r1', 'P-384', 'sha384', 'SHA-384', 48],
  ] as const)(
    'turns %s DER signatures into r||s that WebCrypto verifies (padded and short r/s included)',
    async (curve, named, hash, webHash, size) => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      const key = await webcrypto.subtle.importKey(
        'spki',
        publicKey.export({ format: 'der', type: 'spki' }),
        { name: 'ECDSA', namedCurve: named },
        false,
        ['verify'],
      );
      let irregular = 0;
      for (let i = 0; i < 300; i++) {
        const data = Buffer.from(`message ${i}`);
        const der = sign(hash, data, { key: privateKey, dsaEncoding: 'der' });
        // A 0x00 pad (high bit set) or a shorter integer: the cases a fixed-offset copy would get wrong.
        if (der.length !== 2 * size + 6) irregular++;
        const p1363 = derToP1363(der, size);
        expect(p1363).toHaveLength(2 * size);
        expect(await webcrypto.subtle.verify({ name: 'ECDSA', hash: webHash }, key, p1363, data)).toBe(true);
      }
      expect(irregular).toBeGreaterThan(0);
    },
  );

  it('refuses malformed input', () => {
    expect(() => derToP1363(new Uint8Array([0x31, 0x00]), 32)).toThrow(/malformed/);
    expect(() => derToP1363(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]), 32)).toThrow(/malformed/);
    const tooLong = new Uint8Array([0x30, 0x08, 0x02, 0x03, 1, 2, 3, 0x02, 0x01, 0x01]);
    expect(() => derToP1363(tooLong, 2)).toThrow(/malformed/);
  });
});
