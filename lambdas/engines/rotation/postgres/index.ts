/**
 * The PostgreSQL rotation engine: `postgres-single` (one user, password changed in place) and
 * `postgres-alternating` (`user` / `user_clone` take turns, with grants, memberships and object ownership kept in
 * step). Values are AWS's SecretString JSON: `{ engine, host, port, dbname, username, password, ssl? }`.
 */
/** Ends the pooled admin sessions the rotators keep (call at shutdown). */

export { postgresAlternatingRotator } from './postgres-alternating-rotator.ts';
export {
  type PostgresAlternatingSettings,
  type PostgresAlternatingSettingsInput,
  PostgresAlternatingSettingsSchema,
  type PostgresSingleSettings,
  type PostgresSingleSettingsInput,
  PostgresSingleSettingsSchema,
} from './postgres-settings.ts';
export { postgresSingleRotator } from './postgres-single-rotator.ts';
