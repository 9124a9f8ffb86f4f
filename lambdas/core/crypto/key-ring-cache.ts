import type { KeyProvider } from '../ports/key-provider.ts';
import type { CustomerKey, KeyRing } from '../ports/key-ring.ts';
import { CachingKeyProvider, type CachingKeyProviderOptions } from './data-key-cache.ts';

/**
 * A {@link KeyRing} whose keys' providers remember plaintext data keys ({@link CachingKeyProvider}), so reading a
 * secret under a customer key costs what reading one under the default key does: one KMS call per data key per TTL,
 * not one per read.
 *
 * @example
 * ```ts
 * const keyRing = new CachingKeyRing(new KmsKeyRing({ client, account }), { clock });
 * ```
 */
export class CachingKeyRing implements KeyRing {
  readonly #inner: KeyRing;
  readonly #options: CachingKeyProviderOptions;
  readonly #providers = new Map<string, CachingKeyProvider>();
  readonly create?: (alias: string) => Promise<CustomerKey>;

  constructor(inner: KeyRing, options: CachingKeyProviderOptions) {
    this.#inner = inner;
    this.#options = options;
    if (inner.create !== undefined) this.create = (alias) => inner.create!(alias);
  }

  describe(): { provider: string } {
    return this.#inner.describe();
  }

  resolve(keyId: string): Promise<CustomerKey> {
    return this.#inner.resolve(keyId);
  }

  provider(keyArn: string): KeyProvider {
    let provider = this.#providers.get(keyArn);
    if (provider === undefined) {
      provider = new CachingKeyProvider(this.#inner.provider(keyArn), this.#options);
      this.#providers.set(keyArn, provider);
    }
    return provider;
  }

  list(): Promise<CustomerKey[]> {
    return this.#inner.list();
  }

  /** Zeroes and drops every cached data key. */
  clear(): void {
    for (const provider of this.#providers.values()) provider.clear();
  }
}
