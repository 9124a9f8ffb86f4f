import type { KMSClient } from '@aws-sdk/client-kms';
import { KmsKeyProvider } from '../../adapters/aws/kms-key-provider/kms-key-provider.ts';
import { KmsKeyRing } from '../../adapters/aws/kms-key-provider/kms-key-ring.ts';
import { CachingKeyProvider } from '../../core/crypto/data-key-cache.ts';
import { CachingKeyRing } from '../../core/crypto/key-ring-cache.ts';
import type { Clock } from '../../core/ports/clock.ts';

/**
 * The keys the functions beside the broker (the lease sweeper, the replicator) open and seal secret versions with:
 * the envelope key, and the customer keys secrets may name (`KmsKeyId`), each behind a data-key cache as the broker
 * has them. A module of its own, so those functions do not load the broker's composition at cold start.
 */
export function kmsVersionKeys(
  kms: KMSClient,
  config: { readonly envelopeKeyArn: string; readonly account: string; readonly region: string },
  clock: Clock,
): { keyProvider: CachingKeyProvider; keyRing: CachingKeyRing } {
  return {
    keyProvider: new CachingKeyProvider(new KmsKeyProvider({ client: kms, keyId: config.envelopeKeyArn }), { clock }),
    keyRing: new CachingKeyRing(new KmsKeyRing({ client: kms, account: config.account, region: config.region }), {
      clock,
    }),
  };
}
