import { createExpirySweeperHandler } from './expiry-sweeper.ts';

/**
 * The expiry sweeper's Lambda entry point (run every minute by an EventBridge schedule), composed at module load so
 * a configuration error fails the init phase with a message naming the setting.
 */
export const handler = createExpirySweeperHandler();
