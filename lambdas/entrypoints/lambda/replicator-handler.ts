import { createReplicatorHandler } from './replicator.ts';

/**
 * The replicator's Lambda entry point (the table's stream and a one-minute schedule), composed at module load so a
 * configuration error fails the init phase with a message naming the setting.
 */
export const handler = createReplicatorHandler();
