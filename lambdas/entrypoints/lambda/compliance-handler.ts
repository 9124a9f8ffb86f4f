import { loadComplianceHandler } from './compliance-metrics.ts';
import { loadAwsConfig } from './config.ts';

/**
 * The scheduled compliance function's Lambda entry point (an EventBridge schedule runs it; see `compliance-metrics.ts`).
 * Composed at module load, so a configuration error, or an audit salt secret that cannot be read, fails the init
 * phase with a message naming the setting.
 */
export const handler = await loadComplianceHandler(loadAwsConfig());
