import { createHash } from 'node:crypto';
import {
  CreateKeyCommand,
  GetPublicKeyCommand,
  type KeySpec,
  type KMSClient,
  SignCommand,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { dependencyUnavailable, isUnavailableAwsError } from '../../../core/aws-errors.ts';
import { InternalError, NotFoundError, ValidationError } from '../../../core/errors.ts';
import { type CaKeyStore, type CaKeyType, type CaSigner, caHash } from '../../../core/ports/ca-key-store.ts';

const KEY_SPEC: Record<CaKeyType, KeySpec> = {
  'ec-p256': 'ECC_NIST_P256',
  'ec-p384': 'ECC_NIST_P384',
  'rsa-2048': 'RSA_2048',
  'rsa-3072': 'RSA_3072',
  'rsa-4096': 'RSA_4096',
};

const SIGNING_ALGORITHM: Record<CaKeyType, SigningAlgorithmSpec> = {
  'ec-p256': 'ECDSA_SHA_256',
  'ec-p384': 'ECDSA_SHA_384',
  'rsa-2048': 'RSASSA_PKCS1_V1_5_SHA_256',
  'rsa-3072': 'RSASSA_PKCS1_V1_5_SHA_256',
  'rsa-4096': 'RSASSA_PKCS1_V1_5_SHA_256',
};

/** KMS `Sign` accepts a RAW message of at most 4096 bytes; longer input is hashed here and sent as a DIGEST. */
const MAX_RAW_MESSAGE = 4096;

export interface KmsCaKeyStoreOptions {
  /** The KMS client, injected so tests can point it at an emulator or mock it. */
  readonly client: KMSClient;
  /** Prefix of the description given to created keys. @default 'coffer pki' */
  readonly description?: string;
  /** Tags put on every created key (e.g. the deployment name), so IAM conditions can scope `kms:Sign`. */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * CA keys as KMS asymmetric keys (`KeyUsage: SIGN_VERIFY`): the private key is generated inside KMS and never leaves
 * it; certificates and CRLs are signed with `kms:Sign`. The key reference is the key ARN.
 *
 * @example
 * ```ts
 * const caKeys = new KmsCaKeyStore({ client: new KMSClient({}) });
 * const signer = await caKeys.create('ec-p256', 'root');   // signer.keyRef is the key ARN
 * ```
 */
export class KmsCaKeyStore implements CaKeyStore {
  readonly kind = 'kms';
  readonly #client: KMSClient;
  readonly #description: string;
  readonly #tags: Readonly<Record<string, string>>;

  constructor(options: KmsCaKeyStoreOptions) {
    this.#client = options.client;
    this.#description = options.description ?? 'coffer pki';
    this.#tags = options.tags ?? {};
  }

  async create(keyType: CaKeyType, label: string): Promise<CaSigner> {
    const created = await this.#send(() =>
      this.#client.send(
        new CreateKeyCommand({
          KeySpec: KEY_SPEC[keyType],
          KeyUsage: 'SIGN_VERIFY',
          Description: `${this.#description} ${label} CA key`,
          Tags: Object.entries({ ...this.#tags, 'coffer:pki-ca': label }).map(([TagKey, TagValue]) => ({
            TagKey,
            TagValue,
          })),
        }),
      ),
    );
    const arn = created.KeyMetadata?.Arn;
    if (arn === undefined) throw new InternalError('KMS CreateKey returned no key ARN');
    return this.open(arn, keyType);
  }

  async open(keyRef: string, keyType: CaKeyType): Promise<CaSigner> {
    const got = await this.#send(() => this.#client.send(new GetPublicKeyCommand({ KeyId: keyRef })));
    // KMS answers both fields; `CustomerMasterKeySpec` is the deprecated one, and the only one some emulators send.
    const spec = got.KeySpec ?? got.CustomerMasterKeySpec;
    if (got.KeyUsage !== 'SIGN_VERIFY' || spec !== KEY_SPEC[keyType] || got.PublicKey === undefined) {
      throw new ValidationError(`KMS key ${keyRef} is not a ${KEY_SPEC[keyType]} SIGN_VERIFY key`);
    }
    const spki = new Uint8Array(got.PublicKey);
    const client = this.#client;
    const send = this.#send.bind(this);
    return {
      keyRef,
      keyType,
      spki,
      async sign(data) {
        const raw = data.length <= MAX_RAW_MESSAGE;
        const message = raw
          ? data
          : new Uint8Array(createHash(caHash(keyType).replace('-', '').toLowerCase()).update(data).digest());
        const signed = await send(() =>
          client.send(
            new SignCommand({
              KeyId: keyRef,
              Message: message,
              MessageType: raw ? 'RAW' : 'DIGEST',
              SigningAlgorithm: SIGNING_ALGORITHM[keyType],
            }),
          ),
        );
        if (signed.Signature === undefined) throw new InternalError('KMS Sign returned no signature');
        // KMS returns ECDSA signatures DER-encoded and RSA PKCS#1 v1.5 signatures raw: both as X.509 carries them.
        return new Uint8Array(signed.Signature);
      },
    };
  }

  async #send<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      const name = err instanceof Error ? err.name : '';
      if (name === 'NotFoundException') throw new NotFoundError('the KMS CA key does not exist', { cause: err });
      if (isUnavailableAwsError(err)) throw dependencyUnavailable('KMS', 'request', err);
      throw new InternalError(`KMS request failed: ${name || 'unknown error'}`, { cause: err });
    }
  }
}
