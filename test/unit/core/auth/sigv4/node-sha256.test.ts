import { Sha256 } from '@aws-crypto/sha256-js';
import { describe, expect, it } from 'vitest';
import { NodeSha256 } from '../../../../../lambdas/core/auth/sigv4/node-sha256.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** The reference: the JavaScript SHA-256 the AWS SDK's signer uses in browsers. */
async function reference(data: string | Uint8Array, secret?: string | Uint8Array): Promise<string> {
  const hash = new Sha256(secret);
  hash.update(data);
  return hex(await hash.digest());
}

describe('Class: NodeSha256', () => {
  const bytes = new Uint8Array([0, 1, 2, 250, 251, 252]);
  const view = new Uint8Array(Buffer.from('..payload..')).subarray(2, 9);

  it.each([
    ['a string', 'AWS4-HMAC-SHA256\n20261207T000000Z', undefined],
    ['bytes', bytes, undefined],
    ['a view into a larger buffer', view, undefined],
    ['an HMAC keyed by a string', 'aws4_request', 'AWS4secret'],
    ['an HMAC keyed by bytes', 'secretsmanager', bytes],
  ] as const)('digests %s exactly as @aws-crypto/sha256-js does', async (_what, data, secret) => {
    const ours = new NodeSha256(secret);
    ours.update(data);
    expect(hex(await ours.digest())).toBe(await reference(data, secret));
  });

  it('starts again after reset, keeping its key', async () => {
    const hmac = new NodeSha256('key');
    hmac.update('discarded');
    hmac.reset();
    hmac.update('kept');
    expect(hex(await hmac.digest())).toBe(await reference('kept', 'key'));
  });
});
