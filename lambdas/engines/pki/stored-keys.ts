/**
 * Issued private keys that a `store_private_key` role keeps: each sealed under its own data key, bound to its
 * certificate's serial, and re-wrapped when the root key rotates.
 */
import { open as openSealed, seal } from '../../core/crypto/envelope.ts';
import { NotFoundError } from '../../core/errors.ts';
import type { KeyProvider } from '../../core/ports/key-provider.ts';
import { ConditionFailedError, queryAll, type Store } from '../../core/ports/store.ts';
import { pemText } from './pem.ts';
import { type CertRecord, normaliseSerial, PK_CERT } from './pki-records.ts';
import { PemConverter } from './x509.ts';

export type SealedKey = NonNullable<CertRecord['sealedKey']>;

export class StoredKeys {
  readonly #store: Store;
  readonly #keyProvider: KeyProvider;

  constructor(options: { readonly store: Store; readonly keyProvider: KeyProvider }) {
    this.#store = options.store;
    this.#keyProvider = options.keyProvider;
  }

  /** Seals a PKCS#8 key for the certificate `serial`; the caller zeroes `pkcs8`. */
  async seal(serial: string, pkcs8: Buffer): Promise<SealedKey> {
    const { plaintext, wrapped } = await this.#keyProvider.generateDataKey(keyContext(serial));
    try {
      const sealed = seal(plaintext, pkcs8, binding(serial));
      return { wrapped, blob: sealed.blob };
    } finally {
      plaintext.fill(0);
    }
  }

  /** The private key a `store_private_key` role kept, unsealed. */
  async open(serialInput: string): Promise<{ serial_number: string; private_key: string }> {
    const serial = normaliseSerial(serialInput);
    const item = await this.#store.get<CertRecord>(PK_CERT, serial);
    if (item === undefined) throw new NotFoundError(`no certificate with serial ${serial}`);
    const sealed = item.data.sealedKey;
    if (sealed === undefined) throw new NotFoundError(`the private key of ${serial} was not stored`);
    const dataKey = await this.#keyProvider.unwrapDataKey(sealed.wrapped, keyContext(serial));
    const pkcs8 = openSealed(dataKey, { blob: sealed.blob }, binding(serial));
    try {
      return { serial_number: serial, private_key: pemText(PemConverter.encode(pkcs8, 'PRIVATE KEY')) };
    } finally {
      // Only the plaintext key is ours to zero; a caching provider hands out its cached data-key buffer.
      pkcs8.fill(0);
    }
  }

  /** Re-wraps the data keys of stored private keys under the current root key (after a keyring rotation). */
  async rewrapAll(): Promise<{ rewrapped: number }> {
    let rewrapped = 0;
    for (const item of await queryAll<CertRecord>(this.#store, PK_CERT)) {
      const sealed = item.data.sealedKey;
      if (sealed === undefined || this.#keyProvider.isCurrent(sealed.wrapped)) continue;
      const wrapped = await this.#keyProvider.rewrapDataKey(sealed.wrapped, keyContext(item.sk));
      try {
        await this.#store.transact([
          {
            type: 'put',
            pk: PK_CERT,
            sk: item.sk,
            data: { ...item.data, sealedKey: { ...sealed, wrapped } },
            condition: { kind: 'rev', rev: item.rev },
          },
        ]);
        rewrapped++;
      } catch (err) {
        // Revoked meanwhile: the next pass picks it up at its new revision.
        if (!(err instanceof ConditionFailedError)) throw err;
      }
    }
    return { rewrapped };
  }
}

function keyContext(serial: string) {
  return { engine: 'pki', serial, purpose: 'private-key' };
}

function binding(serial: string) {
  return { secretId: `pki/cert/${serial}`, versionId: 'private-key' };
}
