import { createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../lambdas/core/errors.ts';
import { CA_KEY_TYPES, type CaKeyStore, type CaKeyType, type CaSigner } from '../../lambdas/core/ports/ca-key-store.ts';
import { AsnEcSignatureFormatter, PublicKey } from '../../lambdas/engines/pki/x509.ts';

/** What a contract run needs from an adapter: a fresh store, a key reference it never made, and how to tidy up. */
export type CaKeyStoreFactory = () => Promise<{
  keys: CaKeyStore;
  /** A well-formed reference to a key that does not exist (each adapter has its own form: a local id, an ARN). */
  missingKeyRef: string;
  cleanup?: () => Promise<void>;
}>;

/** How WebCrypto names each key type's signing scheme: what a relying party verifies a CA's signatures with. */
const WEB_ALGORITHM: Record<CaKeyType, webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams> = {
  'ec-p256': { name: 'ECDSA', namedCurve: 'P-256' },
  'ec-p384': { name: 'ECDSA', namedCurve: 'P-384' },
  'rsa-2048': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  'rsa-3072': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  'rsa-4096': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
};

const EC_HASH: Record<string, string> = { 'P-256': 'SHA-256', 'P-384': 'SHA-384' };

/** Verifies `signature` as X.509 carries it (DER for ECDSA) over `data` with the signer's published key. */
async function verifies(keyType: CaKeyType, spki: Uint8Array, data: Uint8Array, signature: Uint8Array) {
  const algorithm = WEB_ALGORITHM[keyType];
  const key = await new PublicKey(spki).export(algorithm, ['verify'], webcrypto as webcrypto.Crypto);
  if (algorithm.name === 'ECDSA') {
    const curve = (algorithm as webcrypto.EcKeyImportParams).namedCurve;
    const raw = new AsnEcSignatureFormatter().toWebSignature(algorithm, signature);
    if (raw === null) return false;
    return webcrypto.subtle.verify({ name: 'ECDSA', hash: EC_HASH[curve]! }, key, raw, data);
  }
  return webcrypto.subtle.verify(algorithm, key, signature, data);
}

/** The key a public key names: EC and its curve, or RSA and its modulus length. */
function describeKey(spki: Uint8Array): string {
  const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  const details = key.asymmetricKeyDetails ?? {};
  return key.asymmetricKeyType === 'ec'
    ? `ec ${details.namedCurve}`
    : `${key.asymmetricKeyType} ${details.modulusLength}`;
}

const EXPECTED_KEY: Record<CaKeyType, string> = {
  'ec-p256': 'ec prime256v1',
  'ec-p384': 'ec secp384r1',
  'rsa-2048': 'rsa 2048',
  'rsa-3072': 'rsa 3072',
  'rsa-4096': 'rsa 4096',
};

export interface CaKeyStoreContractOptions {
  /** @default every CA key type */
  readonly keyTypes?: readonly CaKeyType[];
  /**
   * Whether to sign messages over 4 KiB, which KMS takes only as a digest. Off only where the backend behind the
   * adapter cannot sign digests (the emulator), and then the adapter's digest path needs a test of its own.
   * @default true
   */
  readonly longMessages?: boolean;
}

/**
 * The behaviour every {@link CaKeyStore} must share (the sealed local store, KMS): a created key publishes its
 * public key, signs with its type's one scheme so that the public key verifies the signature, is re-opened by its
 * reference to the same key, and an unknown reference is `NotFoundError`. Rewrapping is the local store's own
 * (`SealedCaKeyStore.rewrapAll`): the port does not declare it, so this suite does not test it.
 *
 * @example
 * ```ts
 * describeCaKeyStoreContract('SealedCaKeyStore', async () => ({
 *   keys: new SealedCaKeyStore({ store: new MemoryStore(), keyProvider: new FakeKeyProvider(), clock: systemClock }),
 *   missingKeyRef: `local-ca-${randomUUID()}`,
 * }));
 * ```
 */
export function describeCaKeyStoreContract(
  name: string,
  factory: CaKeyStoreFactory,
  options: CaKeyStoreContractOptions = {},
): void {
  const { keyTypes = CA_KEY_TYPES, longMessages = true } = options;
  describe(`Contract: CaKeyStore (${name})`, () => {
    let keys: CaKeyStore;
    let missingKeyRef: string;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      ({ keys, missingKeyRef, cleanup } = await factory());
    });

    afterEach(async () => {
      await cleanup?.();
    });

    it('names its kind', () => {
      expect(keys.kind).toMatch(/^[a-z][a-z0-9-]*$/);
    });

    describe.each(keyTypes)('key type %s', (keyType) => {
      let signer: CaSigner;

      beforeEach(async () => {
        signer = await keys.create(keyType, 'contract');
      });

      it('creates a key of that type and publishes its public key', async () => {
        expect(signer.keyType).toBe(keyType);
        expect(signer.keyRef).not.toBe('');
        expect(describeKey(signer.spki)).toBe(EXPECTED_KEY[keyType]);
      });

      it('signs so that the public key verifies the signature, and only over the data signed', async () => {
        const data = new Uint8Array(randomBytes(300));
        const signature = await signer.sign(data);
        expect(await verifies(keyType, signer.spki, data, signature)).toBe(true);
        const other = new Uint8Array(data);
        other[0] = (other[0]! + 1) % 256;
        expect(await verifies(keyType, signer.spki, other, signature)).toBe(false);
      });

      if (longMessages) {
        it('signs data longer than 4 KiB (a certificate with many names, a long CRL)', async () => {
          const data = new Uint8Array(randomBytes(10_000));
          expect(await verifies(keyType, signer.spki, data, await signer.sign(data))).toBe(true);
        });
      }

      it('re-opens the key by its reference: same public key, signatures it verifies', async () => {
        const reopened = await keys.open(signer.keyRef, keyType);
        expect(reopened.keyRef).toBe(signer.keyRef);
        expect(reopened.keyType).toBe(keyType);
        expect(Buffer.from(reopened.spki).equals(Buffer.from(signer.spki))).toBe(true);
        const data = new Uint8Array(randomBytes(64));
        expect(await verifies(keyType, signer.spki, data, await reopened.sign(data))).toBe(true);
      });

      it('refuses to open the key as another key type', async () => {
        const other = keyType === 'ec-p256' ? 'ec-p384' : 'ec-p256';
        await expect(keys.open(signer.keyRef, other)).rejects.toBeInstanceOf(Error);
      });
    });

    it('creates a distinct key each time', async () => {
      const [first, second] = [await keys.create('ec-p256', 'a'), await keys.create('ec-p256', 'b')];
      expect(first.keyRef).not.toBe(second.keyRef);
      expect(Buffer.from(first.spki).equals(Buffer.from(second.spki))).toBe(false);
      const data = new Uint8Array(randomBytes(64));
      expect(await verifies('ec-p256', second.spki, data, await first.sign(data))).toBe(false);
    });

    it('answers NotFoundError for a key it never made', async () => {
      await expect(keys.open(missingKeyRef, 'ec-p256')).rejects.toBeInstanceOf(NotFoundError);
    });
  });
}
