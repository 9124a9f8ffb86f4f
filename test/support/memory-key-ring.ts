import { randomUUID } from 'node:crypto';
import { aliasName, keyArn, parseKmsKeyId } from '../../lambdas/core/crypto/kms-key-id.ts';
import { AlreadyExistsError, InvalidRequestError, NotFoundError, ValidationError } from '../../lambdas/core/errors.ts';
import type { KeyProvider } from '../../lambdas/core/ports/key-provider.ts';
import type { CustomerKey, KeyRing } from '../../lambdas/core/ports/key-ring.ts';
import { FakeKeyProvider } from './fake-key-provider.ts';

/**
 * An in-memory {@link KeyRing} for tests: each key is a {@link FakeKeyProvider} of its own (so a data key wrapped
 * under one key does not unwrap under another), addressed as the real key rings address them. `disable` makes a key
 * refuse to resolve, as a disabled KMS key does; `forget` removes it, as a deleted one.
 */
export class MemoryKeyRing implements KeyRing {
  readonly keys = new Map<string, { key: CustomerKey; provider: FakeKeyProvider; disabled: boolean }>();

  constructor(
    private readonly region = 'us-east-1',
    private readonly account = '000000000000',
  ) {}

  describe(): { provider: string } {
    return { provider: 'memory' };
  }

  readonly create = async (alias: string, options: { everyRegion?: boolean } = {}): Promise<CustomerKey> => {
    const name = aliasName(alias);
    if ([...this.keys.values()].some((k) => k.key.aliases.includes(name))) {
      throw new AlreadyExistsError(`a key with alias alias/${name} already exists`);
    }
    const id = randomUUID();
    const key: CustomerKey = {
      arn: keyArn(this.region, this.account, id),
      keyId: id,
      aliases: [name],
      createdAt: 0,
      // Like a multi-region KMS key unless told otherwise (a single-region KMS key cannot serve replicas).
      everyRegion: options.everyRegion ?? true,
    };
    this.keys.set(key.arn, { key, provider: new FakeKeyProvider(), disabled: false });
    return key;
  };

  async resolve(keyId: string): Promise<CustomerKey> {
    const ref = parseKmsKeyId(keyId);
    if (ref === undefined) throw new ValidationError('Invalid keyId');
    const found = [...this.keys.values()].find(({ key }) =>
      ref.kind === 'alias' ? key.aliases.includes(ref.name) : key.keyId === ref.id,
    );
    if (found === undefined) throw new NotFoundError(`Key '${keyId}' does not exist`);
    if (found.disabled) throw new InvalidRequestError(`${found.key.arn} is disabled.`);
    return found.key;
  }

  provider(arn: string): KeyProvider {
    const found = this.keys.get(arn);
    if (found === undefined) throw new NotFoundError(`Key '${arn}' does not exist`);
    return found.provider;
  }

  async list(): Promise<CustomerKey[]> {
    return [...this.keys.values()].map(({ key }) => key);
  }

  disable(arn: string): void {
    this.keys.get(arn)!.disabled = true;
  }

  forget(arn: string): void {
    this.keys.delete(arn);
  }
}
