import type { KeyProvider } from './key-provider.ts';

/**
 * Customer keys a secret may name (`KmsKeyId`), beside the node's default envelope key: named keys in the local
 * keyring, customer-managed KMS keys on AWS. Each key is a {@link KeyProvider} of its own; a version records the ARN
 * of the key that sealed it, so it opens whichever key the secret names today.
 */
export interface CustomerKey {
  /** The key ARN (`arn:aws:kms:<region>:<account>:key/<id>`): what a secret records and DescribeSecret shows. */
  readonly arn: string;
  /** The key id, the ARN's last part. */
  readonly keyId: string;
  /** Alias names without the `alias/` prefix, when known (an AWS key resolved by id lists none). */
  readonly aliases: readonly string[];
  /** Epoch milliseconds, when known. */
  readonly createdAt?: number | undefined;
  /**
   * Whether a replica in another region can be sealed under this key and opened there: the local keyring's keys
   * serve every region the node holds; a KMS key only when it is a multi-region key (replicated to that region).
   */
  readonly everyRegion: boolean;
}

export interface KeyRing {
  /** Which family of keys this is, for describe/audit. */
  describe(): { readonly provider: string };
  /**
   * The key a caller named: `alias/<name>`, a key id, a key ARN or an alias ARN.
   *
   * @throws ValidationError when `keyId` is none of those forms
   * @throws NotFoundError when no such key exists
   * @throws InvalidRequestError when the key exists but cannot seal (disabled, pending deletion, not symmetric)
   */
  resolve(keyId: string): Promise<CustomerKey>;
  /**
   * The provider wrapping data keys under the key with this ARN (as `resolve` returned it). Unwrapping through it
   * checks the key again, so a version whose recorded ARN was tampered with does not open under another key.
   *
   * @throws NotFoundError when no key has this ARN
   */
  provider(keyArn: string): KeyProvider;
  /** The keys this node manages itself (the local keyring's); on AWS, keys live in KMS and this is empty. */
  list(): Promise<CustomerKey[]>;
  /**
   * Creates a named key (the local keyring). Absent where keys are created elsewhere (in KMS, on AWS).
   *
   * @throws AlreadyExistsError when the alias is taken
   * @throws ValidationError when the alias is not a valid alias name
   */
  readonly create?: (alias: string) => Promise<CustomerKey>;
}
