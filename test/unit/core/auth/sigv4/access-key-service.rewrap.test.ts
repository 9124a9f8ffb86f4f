import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../../lambdas/adapters/memory/memory-store.ts';
import { AccessKeyService } from '../../../../../lambdas/core/auth/sigv4/access-key-service.ts';
import { FakeKeyProvider } from '../../../../support/fake-key-provider.ts';

describe('Method: AccessKeyService.rewrapAll', () => {
  it('moves every access key to the current root key so the old one can be retired', async () => {
    const keyProvider = new FakeKeyProvider();
    const clock = { now: () => Date.UTC(2026, 10, 28) };
    const keys = new AccessKeyService({ store: new MemoryStore(), keyProvider, clock, cacheTtlMs: 0 });
    const created = await Promise.all(
      Array.from({ length: 150 }, (_, i) => keys.create({ principal: `holder-${i}`, policies: [] })),
    );
    const old = keyProvider.describe().keyId;
    keyProvider.rotate();

    expect(await keys.rewrapAll()).toEqual({ rewrapped: 150 });
    expect(await keys.rewrapAll()).toEqual({ rewrapped: 0 });
    keyProvider.retire(old);
    for (const key of created) {
      expect((await keys.secretFor(key.accessKeyId))?.secret).toBe(key.secretAccessKey);
    }
  });
});
