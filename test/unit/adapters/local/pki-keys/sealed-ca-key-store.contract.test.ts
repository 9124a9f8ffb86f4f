import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileKeyring } from '../../../../../lambdas/adapters/local/keyring/file-keyring.ts';
import { SealedCaKeyStore } from '../../../../../lambdas/adapters/local/pki-keys/sealed-ca-key-store.ts';
import { SqliteStore } from '../../../../../lambdas/adapters/local/store/sqlite-store.ts';
import { systemClock } from '../../../../../lambdas/core/ports/clock.ts';
import { describeCaKeyStoreContract } from '../../../../contract/ca-key-store.contract.ts';

// On the local node's own store and keyring, as the server composes it.
describeCaKeyStoreContract('SealedCaKeyStore (SQLite store, file keyring)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-ca-keys-'));
  const store = SqliteStore.open({ path: path.join(dir, 'store.db') });
  const keyProvider = await FileKeyring.init({ path: path.join(dir, 'keyring.json') });
  return {
    keys: new SealedCaKeyStore({ store, keyProvider, clock: systemClock }),
    missingKeyRef: `local-ca-${randomUUID()}`,
    cleanup: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});
