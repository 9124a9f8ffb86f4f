import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject, randomUUID, sign } from 'node:crypto';
import { promisify } from 'node:util';
import { open, seal } from '../../../core/crypto/envelope.ts';
import { NotFoundError, ValidationError } from '../../../core/errors.ts';
import { type CaKeyStore, type CaKeyType, type CaSigner, caHash } from '../../../core/ports/ca-key-store.ts';
import type { Clock } from '../../../core/ports/clock.ts';
import type { KeyProvider } from '../../../core/ports/key-provider.ts';
import type { Store } from '../../../core/ports/store.ts';

const generate = promisify(generateKeyPair);
/** The partition of sealed CA keys, sk = key id (named in the partition registry, `entrypoints/partitions.ts`). */
export const CA_KEY_PARTITION = 'pki#ca-key';
const PK = CA_KEY_PARTITION;

interface SealedCaKey extends Record<string, unknown> {
  keyType: CaKeyType;
  label: string;
  /** DER SPKI, base64: public, kept in clear so the public half needs no unwrap. */
  spki: string;
  /** Data key wrapped by the KeyProvider (root key file locally). */
  wrapped: string;
  /** AES-256-GCM of the PKCS#8 DER private key under that data key. */
  blob: string;
  createdAt: number;
}

export interface SealedCaKeyStoreOptions {
  readonly store: Store;
  readonly keyProvider: KeyProvider;
  readonly clock: Clock;
}

/**
 * CA keys for the local runtime: generated in process with node:crypto, the PKCS#8 private key sealed with envelope
 * encryption under the `KeyProvider` (the local keyring), and stored in the `Store`. Plaintext key material exists
 * only in memory, as a non-exportable-by-API `KeyObject`.
 *
 * @example
 * ```ts
 * const keys = new SealedCaKeyStore({ store, keyProvider, clock });
 * const signer = await keys.create('ec-p256', 'root');
 * ```
 */
export class SealedCaKeyStore implements CaKeyStore {
  readonly kind = 'local';
  readonly #store: Store;
  readonly #keyProvider: KeyProvider;
  readonly #clock: Clock;

  constructor(options: SealedCaKeyStoreOptions) {
    this.#store = options.store;
    this.#keyProvider = options.keyProvider;
    this.#clock = options.clock;
  }

  async create(keyType: CaKeyType, label: string): Promise<CaSigner> {
    const pair = await generateFor(keyType);
    const keyRef = `local-ca-${randomUUID()}`;
    const pkcs8 = pair.privateKey.export({ format: 'der', type: 'pkcs8' });
    const spki = pair.publicKey.export({ format: 'der', type: 'spki' });
    const { plaintext, wrapped } = await this.#keyProvider.generateDataKey(context(keyRef));
    try {
      const sealed = seal(plaintext, pkcs8, binding(keyRef));
      const record: SealedCaKey = {
        keyType,
        label,
        spki: spki.toString('base64'),
        wrapped,
        blob: sealed.blob,
        createdAt: this.#clock.now(),
      };
      await this.#store.transact([{ type: 'put', pk: PK, sk: keyRef, data: record, condition: { kind: 'absent' } }]);
    } finally {
      plaintext.fill(0);
      pkcs8.fill(0);
    }
    return signerFor(keyRef, keyType, new Uint8Array(spki), pair.privateKey);
  }

  async open(keyRef: string, keyType: CaKeyType): Promise<CaSigner> {
    const item = await this.#store.get<SealedCaKey>(PK, keyRef);
    if (item === undefined) throw new NotFoundError(`no CA key ${keyRef}`);
    if (item.data.keyType !== keyType)
      throw new ValidationError(`CA key ${keyRef} is ${item.data.keyType}, not ${keyType}`);
    const dataKey = await this.#keyProvider.unwrapDataKey(item.data.wrapped, context(keyRef));
    let pkcs8: Buffer | undefined;
    try {
      pkcs8 = open(dataKey, { blob: item.data.blob }, binding(keyRef));
      const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
      const spki = Buffer.from(item.data.spki, 'base64');
      // The sealed private key and the clear public key must belong together.
      const derived = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
      if (!derived.equals(spki)) throw new ValidationError(`CA key ${keyRef}: public key does not match`);
      return signerFor(keyRef, keyType, new Uint8Array(spki), privateKey);
    } finally {
      // The data key is not ours to zero: a caching provider hands out its cached buffer.
      pkcs8?.fill(0);
    }
  }

  /** Re-wraps every CA key's data key under the current root key (after a keyring rotation). */
  async rewrapAll(): Promise<{ rewrapped: number }> {
    let rewrapped = 0;
    let startAfter: string | undefined;
    do {
      const page = await this.#store.query<SealedCaKey>(PK, { limit: 100, ...(startAfter ? { startAfter } : {}) });
      for (const item of page.items) {
        if (this.#keyProvider.isCurrent(item.data.wrapped)) continue;
        const wrapped = await this.#keyProvider.rewrapDataKey(item.data.wrapped, context(item.sk));
        await this.#store.transact([
          {
            type: 'put',
            pk: PK,
            sk: item.sk,
            data: { ...item.data, wrapped },
            condition: { kind: 'rev', rev: item.rev },
          },
        ]);
        rewrapped++;
      }
      startAfter = page.lastKey;
    } while (startAfter !== undefined);
    return { rewrapped };
  }
}

function context(keyRef: string) {
  return { engine: 'pki', caKey: keyRef };
}

function binding(keyRef: string) {
  return { secretId: `pki/ca-key/${keyRef}`, versionId: 'private-key' };
}

async function generateFor(keyType: CaKeyType): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  switch (keyType) {
    case 'ec-p256':
      return generate('ec', { namedCurve: 'prime256v1' });
    case 'ec-p384':
      return generate('ec', { namedCurve: 'secp384r1' });
    default:
      return generate('rsa', { modulusLength: Number(keyType.slice(4)), publicExponent: 0x10001 });
  }
}

function signerFor(keyRef: string, keyType: CaKeyType, spki: Uint8Array, privateKey: KeyObject): CaSigner {
  const hash = caHash(keyType).replace('-', '').toLowerCase();
  return {
    keyRef,
    keyType,
    spki,
    async sign(data) {
      // DER for ECDSA, as X.509 carries it; PKCS#1 v1.5 for RSA.
      return new Uint8Array(sign(hash, data, { key: privateKey, dsaEncoding: 'der' }));
    },
  };
}
