import { createAuditRelayHandler } from './audit-relay.ts';

/**
 * The audit relay's Lambda entry point, composed at module load so a configuration error fails the init phase with
 * a message naming the setting.
 */
export const handler = createAuditRelayHandler();
