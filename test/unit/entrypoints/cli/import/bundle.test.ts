import { describe, expect, it } from 'vitest';
import { type BundleContent, openBundle, sealBundle } from '../../../../../lambdas/entrypoints/cli/import/bundle.ts';

// The smallest cost the format accepts: the tests are about the format, not the KDF's strength.
const cost = { N: 2 ** 14, r: 8, p: 1 };
const content: BundleContent = {
  secrets: [
    {
      name: 'prod/db',
      description: 'the database',
      tags: { team: 'core' },
      versions: [
        {
          versionId: 'a'.repeat(32),
          stages: ['AWSPREVIOUS'],
          createdAt: '2026-01-01T00:00:00.000Z',
          value: 'the first password',
        },
        { versionId: 'b'.repeat(32), stages: ['AWSCURRENT'], createdAt: '2026-01-02T00:00:00.000Z', binary: 'AP8=' },
      ],
    },
  ],
};

describe('backup bundle', () => {
  it('opens with the passphrase it was sealed with and gives back the same content', async () => {
    const sealed = await sealBundle(content, 'correct horse', { cost });
    expect(sealed.subarray(0, 14).toString()).toBe('COFFER-BUNDLE\n');
    expect(sealed.includes(Buffer.from('prod/db'))).toBe(false);
    expect(sealed.includes(Buffer.from('the first password'))).toBe(false);
    expect(await openBundle(sealed, 'correct horse')).toEqual(content);
  });

  it('refuses a wrong passphrase', async () => {
    const sealed = await sealBundle(content, 'correct horse', { cost });
    await expect(openBundle(sealed, 'wrong horse')).rejects.toThrow(
      'cannot open the bundle: the passphrase is wrong, or the bundle was altered or truncated',
    );
  });

  it('refuses a changed ciphertext, a changed header and a cut tail', async () => {
    const sealed = await sealBundle(content, 'pp', { cost });
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 20]! ^= 1;
    await expect(openBundle(flipped, 'pp')).rejects.toThrow('cannot open the bundle');
    // The header is authenticated: moving the creation date is as much a change as a changed byte of ciphertext.
    const header = Buffer.from(sealed.toString('latin1').replace(/"createdAt":"2/, '"createdAt":"3'), 'latin1');
    expect(header.equals(sealed)).toBe(false);
    await expect(openBundle(header, 'pp')).rejects.toThrow('cannot open the bundle');
    await expect(openBundle(sealed.subarray(0, sealed.length - 1), 'pp')).rejects.toThrow('cannot open the bundle');
  });

  it('refuses what is not a bundle, a newer format, and a KDF cost out of bounds', async () => {
    await expect(openBundle(Buffer.from('hello'), 'pp')).rejects.toThrow('not a Coffer bundle');
    const sealed = (await sealBundle(content, 'pp', { cost })).toString('latin1');
    await expect(openBundle(Buffer.from(sealed.replace('"format":1', '"format":2'), 'latin1'), 'pp')).rejects.toThrow(
      'bundle format 2 is not supported by this coffer (it reads 1)',
    );
    await expect(
      openBundle(Buffer.from(sealed.replace('"N":16384', `"N":${2 ** 24}`), 'latin1'), 'pp'),
    ).rejects.toThrow('not a Coffer bundle: bad header (kdf.N)');
  });
});
