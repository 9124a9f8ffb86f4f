import { DescribeKeyCommand, type DescribeKeyCommandOutput, type KMSClient } from '@aws-sdk/client-kms';
import { dependencyUnavailable, isUnavailableAwsError } from '../../../core/aws-errors.ts';
import { parseKmsKeyId } from '../../../core/crypto/kms-key-id.ts';
import {
  DecryptionFailureError,
  InternalError,
  InvalidRequestError,
  NotFoundError,
  ValidationError,
} from '../../../core/errors.ts';
import type { EncryptionContext, GeneratedDataKey, KeyProvider } from '../../../core/ports/key-provider.ts';
import type { CustomerKey, KeyRing } from '../../../core/ports/key-ring.ts';
import { KmsKeyProvider } from './kms-key-provider.ts';

export interface KmsKeyRingOptions {
  /** The KMS client, injected so tests can point it at an emulator. */
  readonly client: KMSClient;
  /**
   * The account whose keys secrets may name. Keys of other accounts are refused: the broker's IAM grant covers its
   * own account's keys only, and a version whose recorded key ARN was changed to a key elsewhere must not open.
   */
  readonly account: string;
  /**
   * The client's region. A multi-region key (`mrk-…`) named by another region's ARN is used through its replica in
   * this region, as KMS intends: a replica region's broker opens versions the primary's region sealed.
   * @default none - every ARN is used as given
   */
  readonly region?: string | undefined;
}

/**
 * The AWS {@link KeyRing}: customer-managed KMS keys named by alias, key id, key ARN or alias ARN, resolved with
 * `DescribeKey` to the key ARN a secret records. Each key's data keys come from {@link KmsKeyProvider}, pinned to
 * that ARN. Keys are created in KMS, not here (`create` is absent).
 *
 * IAM: `kms:DescribeKey`, `kms:GenerateDataKey` and `kms:Decrypt` on the keys secrets may name.
 *
 * @example
 * ```ts
 * const keys = new KmsKeyRing({ client: new KMSClient({}), account: '111122223333' });
 * const key = await keys.resolve('alias/payments'); // { arn: 'arn:aws:kms:…:key/…', … }
 * ```
 */
export class KmsKeyRing implements KeyRing {
  readonly #client: KMSClient;
  readonly #account: string;
  readonly #region: string | undefined;
  readonly #providers = new Map<string, KeyProvider>();

  constructor(options: KmsKeyRingOptions) {
    this.#client = options.client;
    this.#account = options.account;
    this.#region = options.region;
  }

  describe(): { provider: string } {
    return { provider: 'aws-kms' };
  }

  async resolve(keyId: string): Promise<CustomerKey> {
    const ref = parseKmsKeyId(keyId);
    if (ref === undefined) throw new ValidationError('Invalid keyId');
    let described: DescribeKeyCommandOutput;
    try {
      described = await this.#client.send(new DescribeKeyCommand({ KeyId: keyId }));
    } catch (err) {
      const name = (err as { name?: unknown }).name;
      const message = (err as { message?: unknown }).message;
      // KMS's own words ("Alias arn:… is not found.", "Invalid keyId"): Secrets Manager passes them on.
      if (name === 'NotFoundException') throw new NotFoundError(String(message), { cause: err });
      if (isUnavailableAwsError(err)) throw dependencyUnavailable('KMS', 'DescribeKey', err);
      throw new InternalError(`KMS DescribeKey: the request failed (${String(name)})`, { cause: err });
    }
    const key = described?.KeyMetadata;
    const arn = key?.Arn;
    const id = key?.KeyId;
    if (key === undefined || arn === undefined || id === undefined) {
      throw new InternalError('KMS DescribeKey returned no key ARN');
    }
    if (arn.split(':')[4] !== this.#account) throw new NotFoundError(`Key '${arn}' does not exist`);
    if (key.KeyState !== 'Enabled') throw new InvalidRequestError(`${arn} is ${describeState(key.KeyState)}.`);
    if (key.KeyUsage !== 'ENCRYPT_DECRYPT' || (key.KeySpec ?? 'SYMMETRIC_DEFAULT') !== 'SYMMETRIC_DEFAULT') {
      throw new InvalidRequestError(`${arn} is not a symmetric encryption key: Secrets Manager supports only those.`);
    }
    const createdAt = key.CreationDate?.getTime();
    return {
      arn,
      keyId: id,
      aliases: ref.kind === 'alias' ? [ref.name] : [],
      createdAt,
      everyRegion: key.MultiRegion === true,
    };
  }

  provider(arn: string): KeyProvider {
    const ref = parseKmsKeyId(arn);
    if (ref?.kind !== 'key' || ref.account !== this.#account) throw new NotFoundError(`Key '${arn}' does not exist`);
    const local =
      this.#region !== undefined && ref.region !== this.#region && ref.id.startsWith(MULTI_REGION_KEY_PREFIX)
        ? arn.replace(`:kms:${ref.region}:`, `:kms:${this.#region}:`)
        : arn;
    let provider = this.#providers.get(arn);
    if (provider === undefined) {
      provider = new CustomerKeyProvider(new KmsKeyProvider({ client: this.#client, keyId: local }), arn);
      this.#providers.set(arn, provider);
    }
    return provider;
  }

  async list(): Promise<CustomerKey[]> {
    return [];
  }
}

/** KMS multi-region keys' ids begin so; a replica keeps its primary's id. */
export const MULTI_REGION_KEY_PREFIX = 'mrk-';

/**
 * KMS failures that are the state of a customer's key, not of the service: the owner disabled it, scheduled it for
 * deletion, or deleted it. For the default key they are an operator's emergency (an `InternalError`); for a key a
 * secret names they are the caller's to see, as AWS answers them.
 */
const KEY_STATE_FAILURES = ['DisabledException', 'KMSInvalidStateException', 'NotFoundException'];

/** A customer key's {@link KmsKeyProvider}, with its key-state failures turned into the caller's errors. */
class CustomerKeyProvider implements KeyProvider {
  constructor(
    private readonly inner: KmsKeyProvider,
    private readonly arn: string,
  ) {}

  describe(): { provider: string; keyId: string } {
    return this.inner.describe();
  }

  generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    return this.inner.generateDataKey(context).catch((err: unknown) => {
      if (!isKeyState(err)) throw err;
      throw new InvalidRequestError(`${this.arn} is disabled, pending deletion or deleted.`, { cause: err });
    });
  }

  unwrapDataKey(wrapped: string, context: EncryptionContext): Promise<Buffer> {
    return this.inner.unwrapDataKey(wrapped, context).catch((err: unknown) => {
      if (!isKeyState(err)) throw err;
      throw new DecryptionFailureError(`${this.arn} is disabled, pending deletion or deleted.`, { cause: err });
    });
  }

  rewrapDataKey(wrapped: string, context: EncryptionContext): Promise<string> {
    return this.inner.rewrapDataKey(wrapped, context);
  }

  isCurrent(wrapped: string): boolean {
    return this.inner.isCurrent(wrapped);
  }
}

/** Whether `err` is the provider's failure wrapping one of {@link KEY_STATE_FAILURES}. */
function isKeyState(err: unknown): boolean {
  const cause = (err as { cause?: { name?: unknown } } | null)?.cause;
  return typeof cause?.name === 'string' && KEY_STATE_FAILURES.includes(cause.name);
}

function describeState(state: unknown): string {
  if (state === 'Disabled') return 'disabled';
  if (state === 'PendingDeletion') return 'pending deletion';
  return `in state ${typeof state === 'string' ? state : 'unknown'}`;
}
