import { webcrypto } from 'node:crypto';
import { type CaKeyType, type CaSigner, caHash } from '../../core/ports/ca-key-store.ts';

type CryptoKey = webcrypto.CryptoKey;
type Crypto = webcrypto.Crypto;

/**
 * Plugs a `CaSigner` into @peculiar/x509. Its generators take a `signingKey` (a `CryptoKey`) and a `crypto`
 * provider, and call `crypto.subtle.sign(algorithm, signingKey, tbs)`; here `signingKey` is a key-shaped handle
 * without key material and `crypto` is WebCrypto with `sign` (and `exportKey` of the public half, which the CSR
 * generator asks for) routed to the signer. So the private key stays wherever the signer keeps it: KMS, or sealed.
 *
 * @example
 * ```ts
 * const ext = externalKey(signer);
 * await X509CertificateGenerator.create({ ..., signingKey: ext.privateKey, signingAlgorithm: ext.signingAlgorithm }, ext.crypto);
 * ```
 */
export interface ExternalKey {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly signingAlgorithm: { name: string; hash: string };
  readonly crypto: Crypto;
}

function keyAlgorithm(keyType: CaKeyType): Record<string, unknown> {
  switch (keyType) {
    case 'ec-p256':
      return { name: 'ECDSA', namedCurve: 'P-256' };
    case 'ec-p384':
      return { name: 'ECDSA', namedCurve: 'P-384' };
    default:
      return {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: Number(keyType.slice(4)),
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: { name: 'SHA-256' },
      };
  }
}

export function externalKey(signer: CaSigner): ExternalKey {
  const algorithm = keyAlgorithm(signer.keyType);
  const handle = (type: 'private' | 'public', usages: string[]) =>
    Object.freeze({ type, extractable: false, algorithm, usages }) as unknown as CryptoKey;
  const privateKey = handle('private', ['sign']);
  const publicKey = handle('public', ['verify']);
  const subtle = webcrypto.subtle;
  const curveBytes = signer.keyType === 'ec-p256' ? 32 : signer.keyType === 'ec-p384' ? 48 : 0;
  const routed = new Proxy(subtle, {
    get(target, prop) {
      if (prop === 'sign') {
        return async (alg: unknown, key: CryptoKey, data: BufferSource) => {
          if (key !== privateKey) return target.sign(alg as AlgorithmIdentifier, key, data);
          const signature = await signer.sign(toBytes(data));
          // WebCrypto (and so the library) speaks IEEE P1363 r||s for ECDSA; X.509 and KMS speak DER.
          return toArrayBuffer(curveBytes > 0 ? derToP1363(signature, curveBytes) : signature);
        };
      }
      if (prop === 'exportKey') {
        return async (format: string, key: CryptoKey) => {
          if (key === publicKey && format === 'spki') return toArrayBuffer(signer.spki);
          if (key === privateKey || key === publicKey) throw new Error('external CA keys are not exportable');
          return target.exportKey(format as 'spki', key);
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const crypto = {
    subtle: routed,
    getRandomValues: (array: Uint8Array) => webcrypto.getRandomValues(array),
    randomUUID: () => webcrypto.randomUUID(),
  } as unknown as Crypto;
  return {
    privateKey,
    publicKey,
    signingAlgorithm: { name: String(algorithm.name), hash: caHash(signer.keyType) },
    crypto,
  };
}

type AlgorithmIdentifier = Parameters<webcrypto.SubtleCrypto['sign']>[0];
type BufferSource = ArrayBufferView | ArrayBuffer;

function toBytes(data: BufferSource): Uint8Array {
  return data instanceof ArrayBuffer
    ? new Uint8Array(data)
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** DER `SEQUENCE { INTEGER r, INTEGER s }` to fixed-width r||s. Throws on anything else. */
export function derToP1363(der: Uint8Array, size: number): Uint8Array {
  let offset = 0;
  const fail = () => new Error('signer returned a malformed ECDSA signature');
  const readLength = (): number => {
    const first = der[offset++];
    if (first === undefined) throw fail();
    if (first < 0x80) return first;
    const count = first & 0x7f;
    if (count === 0 || count > 2) throw fail();
    let length = 0;
    for (let i = 0; i < count; i++) length = (length << 8) | (der[offset++] ?? 0);
    return length;
  };
  if (der[offset++] !== 0x30) throw fail();
  const seqLength = readLength();
  if (offset + seqLength !== der.length) throw fail();
  const out = new Uint8Array(size * 2);
  for (let part = 0; part < 2; part++) {
    if (der[offset++] !== 0x02) throw fail();
    const length = readLength();
    let value = der.subarray(offset, offset + length);
    offset += length;
    while (value.length > 0 && value[0] === 0) value = value.subarray(1);
    if (value.length > size) throw fail();
    out.set(value, part * size + (size - value.length));
  }
  if (offset !== der.length) throw fail();
  return out;
}
