import { randomUUID } from 'node:crypto';
import { KMSClient } from '@aws-sdk/client-kms';
import { KmsCaKeyStore } from '../../../lambdas/adapters/aws/kms-ca-signer/kms-ca-key-store.ts';
import { describeCaKeyStoreContract } from '../../contract/ca-key-store.contract.ts';
import { awsEmulator } from '../../support/aws-emulator.ts';

// The emulator (moto) makes every CA key type (ECC_NIST_P256/P384, RSA_2048/3072/4096) and signs with them, but
// not `MessageType: DIGEST` (moto/kms/models.py: "not yet implemented"; it signs the digest as a raw message), which
// the adapter sends for messages over 4 KiB: that path is tested against a mocked client in
// test/unit/engines/pki/kms-ca-key-store.test.ts.
describeCaKeyStoreContract(
  'KmsCaKeyStore (emulator)',
  async () => {
    const client = new KMSClient(awsEmulator());
    return {
      keys: new KmsCaKeyStore({ client, tags: { 'coffer:deployment': 'contract' } }),
      missingKeyRef: `arn:aws:kms:us-east-1:123456789012:key/${randomUUID()}`,
      cleanup: async () => client.destroy(),
    };
  },
  { longMessages: false },
);
