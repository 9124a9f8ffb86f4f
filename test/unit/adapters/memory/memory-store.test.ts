import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import { describeStoreContract } from '../../../contract/store.contract.ts';

describeStoreContract('MemoryStore', async () => ({ store: new MemoryStore() }));
