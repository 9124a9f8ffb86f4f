import { aliasName, keyArn, parseKmsKeyId } from '../../../core/crypto/kms-key-id.ts';
import { NotFoundError, ValidationError } from '../../../core/errors.ts';
import type { KeyProvider } from '../../../core/ports/key-provider.ts';
import type { CustomerKey, KeyRing } from '../../../core/ports/key-ring.ts';
import type { FileKeyring } from './file-keyring.ts';

export interface LocalKeyRingOptions {
  /** The keyring file holding the named keys. */
  readonly keyring: FileKeyring;
  /** The region and account of the node, in the keys' ARNs (as in its secrets' ARNs). */
  readonly region: string;
  readonly account: string;
}

/**
 * The local {@link KeyRing}: named keys of the keyring file, addressed as KMS keys are (`alias/<name>`, key id, key
 * ARN, alias ARN in this node's region and account), so a `KmsKeyId` written for AWS works here unchanged.
 *
 * @example
 * ```ts
 * const keys = new LocalKeyRing({ keyring, region: 'us-east-1', account: '000000000000' });
 * const key = await keys.create('payments');
 * await secrets.create({ name: 'db', value, kmsKeyId: key.arn });
 * ```
 */
export class LocalKeyRing implements KeyRing {
  readonly #keyring: FileKeyring;
  readonly #region: string;
  readonly #account: string;

  constructor(options: LocalKeyRingOptions) {
    this.#keyring = options.keyring;
    this.#region = options.region;
    this.#account = options.account;
  }

  describe(): { provider: string } {
    return { provider: 'local-keyring' };
  }

  async resolve(keyId: string): Promise<CustomerKey> {
    const ref = parseKmsKeyId(keyId);
    if (ref === undefined) throw new ValidationError('Invalid keyId');
    // An ARN of another region or account names a key this node does not hold, as KMS would say.
    const elsewhere =
      (ref.region !== undefined && ref.region !== this.#region) ||
      (ref.account !== undefined && ref.account !== this.#account);
    const found = elsewhere
      ? undefined
      : this.#keyring.namedKeys().find((key) => (ref.kind === 'alias' ? key.alias === ref.name : key.id === ref.id));
    if (found === undefined) {
      throw new NotFoundError(
        ref.kind === 'alias'
          ? `Alias arn:aws:kms:${ref.region ?? this.#region}:${ref.account ?? this.#account}:alias/${ref.name} is not found.`
          : `Key '${keyArn(ref.region ?? this.#region, ref.account ?? this.#account, ref.id)}' does not exist`,
      );
    }
    return this.#view(found);
  }

  provider(arn: string): KeyProvider {
    const ref = parseKmsKeyId(arn);
    if (ref?.kind !== 'key' || ref.region !== this.#region || ref.account !== this.#account) {
      throw new NotFoundError(`Key '${arn}' does not exist`);
    }
    return this.#keyring.namedKeyProvider(ref.id);
  }

  async list(): Promise<CustomerKey[]> {
    return this.#keyring.namedKeys().map((key) => this.#view(key));
  }

  /**
   * The same named keys, addressed in another region: a local node's named keys serve every region it holds, as a
   * KMS multi-region key does, so a replica in `region` is sealed under the key of the same alias there.
   *
   * @example
   * ```ts
   * const replicaKeys = keys.inRegion('eu-west-1');
   * const { arn } = await replicaKeys.resolve('alias/payments'); // arn:aws:kms:eu-west-1:…:key/<same id>
   * ```
   */
  inRegion(region: string): LocalKeyRing {
    return new LocalKeyRing({ keyring: this.#keyring, region, account: this.#account });
  }

  readonly create = async (alias: string): Promise<CustomerKey> =>
    this.#view(await this.#keyring.createNamedKey(aliasName(alias)));

  #view(key: { id: string; alias: string; createdAt: string }): CustomerKey {
    return {
      arn: keyArn(this.#region, this.#account, key.id),
      keyId: key.id,
      aliases: [key.alias],
      everyRegion: true,
      createdAt: Date.parse(key.createdAt),
    };
  }
}
