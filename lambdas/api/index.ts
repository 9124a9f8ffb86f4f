/**
 * The wire contract of Coffer's native API: one zod schema per answer. The broker's routes answer with these (a
 * handler that returns another shape does not compile) and the clients read with them; it imports only zod, so a
 * client never loads the broker.
 */

export * from './audit-devices.ts';
export * from './auth.ts';
export * from './common.ts';
export * from './compliance.ts';
export * from './credentials.ts';
export * from './database.ts';
export * from './keys.ts';
export * from './leases.ts';
export * from './oauth.ts';
export * from './pki.ts';
export * from './policies.ts';
export * from './quotas.ts';
export * from './replication.ts';
export * from './rotation.ts';
export * from './secrets.ts';
export * from './ssh.ts';
export * from './sys.ts';
export * from './tokens.ts';
export * from './wrapping.ts';
