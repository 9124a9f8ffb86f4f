import { createPublicKey, generateKeyPair, webcrypto } from 'node:crypto';
import { promisify } from 'node:util';
import { ValidationError } from '../../core/errors.ts';
import type { LeafKeyType } from './pki-role.ts';

type CryptoKeyPair = webcrypto.CryptoKeyPair;

const GENERATE: Record<LeafKeyType, webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams | webcrypto.Algorithm> =
  {
    'rsa-2048': rsa(2048),
    'rsa-3072': rsa(3072),
    'rsa-4096': rsa(4096),
    'ec-p256': { name: 'ECDSA', namedCurve: 'P-256' },
    'ec-p384': { name: 'ECDSA', namedCurve: 'P-384' },
    ed25519: { name: 'Ed25519' },
  };

function rsa(bits: number) {
  return { name: 'RSASSA-PKCS1-v1_5', modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
}

/** Generates a leaf key pair (extractable: the private key is handed to the caller once). */
export async function generateLeafKey(keyType: LeafKeyType): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(GENERATE[keyType] as webcrypto.EcKeyGenParams, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
}

const generateKeyPairAsync = promisify(generateKeyPair);

type NodeKeyGen =
  | { type: 'rsa'; options: { modulusLength: number; publicExponent: number } }
  | { type: 'ec'; options: { namedCurve: string } }
  | { type: 'ed25519'; options: Record<string, never> };

const NODE_GENERATE: Record<LeafKeyType, NodeKeyGen> = {
  'rsa-2048': { type: 'rsa', options: { modulusLength: 2048, publicExponent: 0x10001 } },
  'rsa-3072': { type: 'rsa', options: { modulusLength: 3072, publicExponent: 0x10001 } },
  'rsa-4096': { type: 'rsa', options: { modulusLength: 4096, publicExponent: 0x10001 } },
  'ec-p256': { type: 'ec', options: { namedCurve: 'P-256' } },
  'ec-p384': { type: 'ec', options: { namedCurve: 'P-384' } },
  ed25519: { type: 'ed25519', options: {} },
};

/**
 * Generates a leaf key pair already encoded: DER SubjectPublicKeyInfo and PKCS#8 (the caller zeroes `pkcs8`). The
 * encoding happens on the thread pool with the generation, where WebCrypto's `exportKey` would take two more jobs.
 */
export async function generateLeafKeyDer(keyType: LeafKeyType): Promise<{ spki: Uint8Array; pkcs8: Buffer }> {
  const { type, options } = NODE_GENERATE[keyType];
  const encodings = {
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  } as const;
  // One overload per key type in @types/node: the union is resolved here rather than in three calls.
  const generate = generateKeyPairAsync as unknown as (
    type: string,
    options: object,
  ) => Promise<{ publicKey: Buffer; privateKey: Buffer }>;
  const { publicKey, privateKey } = await generate(type, { ...options, ...encodings });
  return { spki: new Uint8Array(publicKey), pkcs8: privateKey };
}

/** What a public key is, in the vocabulary of `key_type`. */
export interface KeyDescription {
  readonly family: 'rsa' | 'ec' | 'ed25519';
  /** RSA modulus bits, EC curve bits, 256 for Ed25519. */
  readonly bits: number;
  /** The `key_type` it corresponds to, when it is one (RSA keys of other sizes map to none). */
  readonly keyType: LeafKeyType | undefined;
}

const CURVES: Record<string, { bits: number; keyType: LeafKeyType }> = {
  prime256v1: { bits: 256, keyType: 'ec-p256' },
  secp384r1: { bits: 384, keyType: 'ec-p384' },
};

/**
 * Describes a DER SubjectPublicKeyInfo and refuses weak or unsupported keys, saying which rule refused:
 * RSA below 2048 bits, EC curves other than P-256/P-384, and any other algorithm.
 */
export function inspectPublicKey(spki: Uint8Array): KeyDescription {
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch {
    throw new ValidationError('the public key cannot be parsed');
  }
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      const bits = details.modulusLength ?? 0;
      if (bits < 2048) throw new ValidationError(`weak key refused: RSA ${bits} bits is below the 2048-bit minimum`);
      if (bits > 8192) throw new ValidationError(`key refused: RSA ${bits} bits is above the 8192-bit maximum`);
      const keyType = ([2048, 3072, 4096] as const).includes(bits as 2048) ? (`rsa-${bits}` as LeafKeyType) : undefined;
      return { family: 'rsa', bits, keyType };
    }
    case 'ec': {
      const curve = CURVES[details.namedCurve ?? ''];
      if (curve === undefined) {
        throw new ValidationError(
          `key refused: EC curve ${details.namedCurve ?? 'unknown'} is not supported (P-256 or P-384)`,
        );
      }
      return { family: 'ec', bits: curve.bits, keyType: curve.keyType };
    }
    case 'ed25519':
      return { family: 'ed25519', bits: 256, keyType: 'ed25519' };
    default:
      throw new ValidationError(`key refused: ${key.asymmetricKeyType ?? 'unknown'} keys are not supported`);
  }
}

/** Refuses a key that does not satisfy the role's `key_type` (an RSA key may be larger than asked). */
export function checkKeyType(wanted: LeafKeyType | 'any', key: KeyDescription): void {
  if (wanted === 'any') return;
  const ok = wanted.startsWith('rsa-')
    ? key.family === 'rsa' && key.bits >= Number(wanted.slice(4))
    : key.keyType === wanted;
  if (!ok) {
    throw new ValidationError(
      `key refused: the role's key_type is ${wanted}, the CSR's key is ${key.keyType ?? `${key.family}-${key.bits}`}`,
    );
  }
}

/** The signing algorithm a leaf key signs its own CSR with (only needed by tests and tools). */
export function leafSigningAlgorithm(keyType: LeafKeyType): { name: string; hash?: string } {
  if (keyType === 'ed25519') return { name: 'Ed25519' };
  if (keyType.startsWith('rsa-')) return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  return { name: 'ECDSA', hash: keyType === 'ec-p384' ? 'SHA-384' : 'SHA-256' };
}
