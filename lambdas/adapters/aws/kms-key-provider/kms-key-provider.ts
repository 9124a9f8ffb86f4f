import {
  DecryptCommand,
  GenerateDataKeyCommand,
  type KMSClient,
  ReEncryptCommand,
  type ReEncryptCommandOutput,
} from '@aws-sdk/client-kms';
import { dependencyUnavailable, isUnavailableAwsError } from '../../../core/aws-errors.ts';
import {
  DecryptionFailureError,
  type DependencyUnavailableError,
  InternalError,
  ValidationError,
} from '../../../core/errors.ts';
import type { EncryptionContext, GeneratedDataKey, KeyProvider } from '../../../core/ports/key-provider.ts';

/** Version tag of the wrapped data-key string `kms1.<base64url(keyArn)>.<base64url(CiphertextBlob)>`. */
const WRAPPED_PREFIX = 'kms1';
const DATA_KEY_BYTES = 32;
/** KMS's own bound on a CiphertextBlob; anything longer cannot have come from KMS. */
const MAX_BLOB_BYTES = 6144;
/** A key ARN in any partition; aliases, alias ARNs and bare key ids are refused (see {@link KmsKeyProviderOptions}). */
const KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]{1,128}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * KMS errors that mean "this ciphertext does not open here": forged or damaged blob, a blob made under another key
 * than the pinned one, or a context other than the one it was made with. Everything else is a service failure.
 *
 * `AccessDeniedException` belongs here for Decrypt and ReEncrypt only. KMS answers it ("the ciphertext refers to a
 * customer master key that does not exist, does not exist in this region, or you are not allowed to access") when the
 * blob's key reference is damaged or names a key other than the pinned one, and when the context fails the
 * `kms:EncryptionContext:*` conditions that `grantEnvelope` sets; moto answers it where KMS says
 * `IncorrectKeyException`. A missing grant looks the same, but then GenerateDataKey fails too, as an `InternalError`,
 * so a misconfiguration does not pass for tampering unnoticed; the message names both readings.
 */
const UNWRAP_REFUSALS: ReadonlySet<string> = new Set([
  'InvalidCiphertextException',
  'IncorrectKeyException',
  'AccessDeniedException',
]);

/** Why KMS failed, in words an operator can act on; keyed by the SDK error's `name`. */
const SERVICE_FAILURES: Readonly<Record<string, string>> = {
  AccessDeniedException: 'KMS denied the request: check the IAM grant on the key (grantEnvelope)',
  ThrottlingException: 'KMS is throttling requests',
  LimitExceededException: 'KMS request quota exceeded',
  DisabledException: 'the KMS key is disabled',
  KMSInvalidStateException: 'the KMS key is not usable in its current state (disabled or pending deletion)',
  NotFoundException: 'the KMS key does not exist',
  KeyUnavailableException: 'the KMS key is unavailable',
  DependencyTimeoutException: 'KMS timed out',
  KMSInternalException: 'KMS had an internal error',
};

export interface KmsKeyProviderOptions {
  /** The KMS client, injected so tests can point it at an emulator or mock it. */
  readonly client: KMSClient;
  /**
   * The ARN of the symmetric KMS key that wraps new data keys, e.g. `arn:aws:kms:eu-west-1:111122223333:key/…`.
   *
   * An ARN, not an alias, for three reasons: `isCurrent` must compare key identities synchronously, with no KMS call;
   * resolving an alias would need `kms:DescribeKey`, which the envelope grant deliberately leaves out; and Decrypt is
   * pinned to this key, which an alias would let anyone allowed `kms:UpdateAlias` re-point.
   */
  readonly keyId: string;
  /**
   * ARNs of keys that wrapped data keys before `keyId` did. Their data keys still unwrap (Decrypt pinned to that old
   * key) and re-wrap onto `keyId`, so moving to a new key is: add the old one here, re-wrap everything, remove it.
   * @default []
   */
  readonly previousKeyIds?: readonly string[];
}

interface ParsedWrapped {
  readonly keyArn: string;
  readonly blob: Buffer;
}

/**
 * The AWS {@link KeyProvider}: data keys come from KMS `GenerateDataKey` under one symmetric key, and only KMS can
 * unwrap them. The encryption context goes with every call, and KMS authenticates it, so a wrapped key only unwraps
 * for the secret and version it was made for. Decrypt always names the key (`KeyId`), so a ciphertext made under any
 * other key is refused by KMS itself rather than decrypted under whatever key the blob claims.
 *
 * The wrapped form is `kms1.<base64url(keyArn)>.<base64url(CiphertextBlob)>`. KMS blobs are opaque, so the ARN is
 * recorded beside the blob: it tells `isCurrent` which key made it without a KMS call. Rotation of the key material
 * (KMS automatic rotation) keeps the ARN and KMS decrypts old ciphertexts transparently, so only a change of key
 * makes a data key non-current. The recorded ARN is a hint, not a trust anchor: Decrypt is pinned to an accepted
 * ARN, and KMS refuses a blob that was not made under it.
 *
 * IAM: GenerateDataKey and Decrypt for reads and writes; `kms:ReEncryptFrom` and `kms:ReEncryptTo` for re-wrapping.
 *
 * @example
 * ```ts
 * const provider = new KmsKeyProvider({ client: new KMSClient({}), keyId: process.env.COFFER_ENVELOPE_KEY_ARN! });
 * const { plaintext, wrapped } = await provider.generateDataKey({ secretId, versionId });
 * ```
 */
export class KmsKeyProvider implements KeyProvider {
  readonly #client: KMSClient;
  readonly #keyArn: string;
  readonly #accepted: ReadonlySet<string>;

  /** @throws ValidationError when a key id is not a KMS key ARN */
  constructor(options: KmsKeyProviderOptions) {
    const previous = options.previousKeyIds ?? [];
    for (const keyId of [options.keyId, ...previous]) {
      if (!KEY_ARN.test(keyId)) {
        throw new ValidationError(
          `KMS key id ${JSON.stringify(keyId)} is not a key ARN (arn:aws:kms:<region>:<account>:key/<id>); aliases are not accepted`,
        );
      }
    }
    this.#client = options.client;
    this.#keyArn = options.keyId;
    this.#accepted = new Set([options.keyId, ...previous]);
  }

  describe(): { provider: string; keyId: string } {
    return { provider: 'aws-kms', keyId: this.#keyArn };
  }

  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    const response = await this.#send('GenerateDataKey', () =>
      this.#client.send(
        new GenerateDataKeyCommand({ KeyId: this.#keyArn, KeySpec: 'AES_256', EncryptionContext: { ...context } }),
      ),
    );
    const plaintext = takePlaintext(response.Plaintext, 'GenerateDataKey');
    if (response.CiphertextBlob === undefined || response.CiphertextBlob.length === 0) {
      plaintext.fill(0);
      throw new InternalError('KMS GenerateDataKey returned no ciphertext');
    }
    return { plaintext, wrapped: formatWrapped(this.#keyArn, response.CiphertextBlob) };
  }

  async unwrapDataKey(wrapped: string, context: EncryptionContext): Promise<Buffer> {
    const { keyArn, blob } = this.#accept(wrapped);
    const response = await this.#sendUnwrap('Decrypt', () =>
      this.#client.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: keyArn, EncryptionContext: { ...context } })),
    );
    const plaintext = takePlaintext(response.Plaintext, 'Decrypt');
    if (response.KeyId !== undefined && response.KeyId !== keyArn) {
      plaintext.fill(0);
      throw new DecryptionFailureError(`KMS decrypted the data key under ${response.KeyId}, not the pinned ${keyArn}`);
    }
    return plaintext;
  }

  /** Re-wraps inside KMS (ReEncrypt), so the plaintext data key never reaches this process. */
  async rewrapDataKey(wrapped: string, context: EncryptionContext): Promise<string> {
    const { keyArn, blob } = this.#accept(wrapped);
    const response: ReEncryptCommandOutput = await this.#sendUnwrap('ReEncrypt', () =>
      this.#client.send(
        new ReEncryptCommand({
          CiphertextBlob: blob,
          SourceKeyId: keyArn,
          SourceEncryptionContext: { ...context },
          DestinationKeyId: this.#keyArn,
          DestinationEncryptionContext: { ...context },
        }),
      ),
    );
    if (response.CiphertextBlob === undefined || response.CiphertextBlob.length === 0) {
      throw new InternalError('KMS ReEncrypt returned no ciphertext');
    }
    return formatWrapped(this.#keyArn, response.CiphertextBlob);
  }

  isCurrent(wrapped: string): boolean {
    return parseWrapped(wrapped)?.keyArn === this.#keyArn;
  }

  /** Parses `wrapped` and checks that it names a key this provider accepts, before any KMS call. */
  #accept(wrapped: string): ParsedWrapped {
    const parsed = parseWrapped(wrapped);
    if (parsed === undefined) throw new DecryptionFailureError('wrapped data key is malformed');
    if (!this.#accepted.has(parsed.keyArn)) {
      throw new DecryptionFailureError(
        `wrapped data key names KMS key ${parsed.keyArn}, which is neither the current nor a previous key`,
      );
    }
    return parsed;
  }

  /** A call whose refusal means the ciphertext or context is wrong: those become `DecryptionFailureError`. */
  #sendUnwrap<T>(operation: 'Decrypt' | 'ReEncrypt', call: () => Promise<T>): Promise<T> {
    return call().catch((err: unknown) => {
      const name = errorName(err);
      if (!UNWRAP_REFUSALS.has(name)) throw serviceFailure(operation, err);
      const alsoGrant = name === 'AccessDeniedException' ? ', or a missing KMS grant' : '';
      throw new DecryptionFailureError(
        `KMS ${operation} refused the wrapped data key (${name}): wrong encryption context, a ciphertext of ` +
          `another key, or tampering${alsoGrant}`,
        { cause: err },
      );
    });
  }

  #send<T>(operation: string, call: () => Promise<T>): Promise<T> {
    return call().catch((err: unknown) => {
      throw serviceFailure(operation, err);
    });
  }
}

/** Copies KMS's plaintext into a Buffer the caller owns, and zeroes the SDK's array so no second copy lingers. */
function takePlaintext(plaintext: Uint8Array | undefined, operation: string): Buffer {
  if (plaintext === undefined) throw new InternalError(`KMS ${operation} returned no plaintext`);
  const copy = Buffer.from(plaintext);
  plaintext.fill(0);
  if (copy.length !== DATA_KEY_BYTES) {
    copy.fill(0);
    throw new InternalError(`KMS ${operation} returned a data key of ${copy.length} bytes, not ${DATA_KEY_BYTES}`);
  }
  return copy;
}

/**
 * A KMS failure in Coffer's words. Throttling or a KMS fault that outlasted the client's retries is
 * {@link DependencyUnavailableError} (503, come back later); a refusal no retry changes (access denied, a disabled,
 * missing or unusable key) stays an `InternalError`: an operator must act, and a client retrying would not help.
 */
function serviceFailure(operation: string, err: unknown): InternalError | DependencyUnavailableError {
  if (isUnavailableAwsError(err)) return dependencyUnavailable('KMS', operation, err);
  const name = errorName(err);
  const why = SERVICE_FAILURES[name] ?? (name === '' ? 'the request failed' : `the request failed (${name})`);
  return new InternalError(`KMS ${operation}: ${why}`, { cause: err });
}

function errorName(err: unknown): string {
  const name = (err as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : '';
}

function formatWrapped(keyArn: string, blob: Uint8Array): string {
  return `${WRAPPED_PREFIX}.${Buffer.from(keyArn, 'utf8').toString('base64url')}.${Buffer.from(blob).toString('base64url')}`;
}

/** Strict: a canonical base64url body of plausible size and a well-formed key ARN, or undefined. */
function parseWrapped(wrapped: string): ParsedWrapped | undefined {
  const parts = wrapped.split('.');
  if (parts.length !== 3 || parts[0] !== WRAPPED_PREFIX) return undefined;
  const [, arnPart, blobPart] = parts as [string, string, string];
  const arnBytes = decodeBase64Url(arnPart);
  const blob = decodeBase64Url(blobPart);
  if (arnBytes === undefined || blob === undefined || blob.length > MAX_BLOB_BYTES) return undefined;
  const keyArn = arnBytes.toString('utf8');
  return KEY_ARN.test(keyArn) ? { keyArn, blob } : undefined;
}

/** Node's decoder skips invalid input silently; re-encoding catches that, so one blob has exactly one spelling. */
function decodeBase64Url(text: string): Buffer | undefined {
  if (!BASE64URL.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.length > 0 && bytes.toString('base64url') === text ? bytes : undefined;
}
