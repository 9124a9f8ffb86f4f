import { loadAwsConfig } from './config.ts';
import { loadRotationHandler } from './rotation.ts';

/**
 * The rotation function's Lambda entry point: the state machine's step tasks, the schedules' scheduled rotations,
 * breach events and the revocation sweep (see `rotation.ts`). Composed once per cold start, at module load (top-level
 * await: the bundle is ESM), so a configuration error, or an audit salt secret that cannot be read, fails the init
 * phase with a message naming the setting.
 */
export const handler = await loadRotationHandler(loadAwsConfig());
