import * as z from 'zod';
import { NotFoundError } from '../../../core/errors.ts';
import { type RotationSecrets, RotationStepError } from '../../../core/rotation/rotation-types.ts';
import type { SecretValue } from '../../../core/secrets/secret-types.ts';

/** PostgreSQL truncates identifiers beyond 63 bytes (NAMEDATALEN - 1); a truncated role name would be another role. */
export const MAX_IDENTIFIER_BYTES = 63;
export const CLONE_SUFFIX = '_clone';
export const OWNER_SUFFIX = '_owner';

const RoleName = z
  .string()
  .min(1)
  .refine((name) => Buffer.byteLength(name, 'utf8') <= MAX_IDENTIFIER_BYTES, 'must be at most 63 bytes')
  .refine((name) => !name.includes('\0'), 'must not contain a NUL character');

const Port = z.union([
  z.number().int().min(1).max(65_535),
  z
    .string()
    .regex(/^\d{1,5}$/)
    .transform(Number)
    .pipe(z.number().int().min(1).max(65_535)),
]);

/** `true`, `"true"` or `"require"` ask for TLS (with certificate checks, as `pg`'s `ssl: true`). */
const Ssl = z.union([z.boolean(), z.string()]).transform((v) => v === true || v === 'true' || v === 'require');

/**
 * The secret value rotated by the PostgreSQL rotators, as AWS's rotation templates read it. Fields not listed here
 * are carried over unchanged into the next value.
 *
 * @example {"engine":"postgres","host":"db.internal","port":5432,"dbname":"app","username":"app","password":"…"}
 */
const PostgresValueSchema = z.looseObject({
  engine: z.literal('postgres', 'must be "postgres"').optional(),
  host: z.string().min(1).max(253),
  port: Port.optional(),
  dbname: z.string().min(1).max(MAX_IDENTIFIER_BYTES).optional(),
  username: RoleName,
  password: z.string().min(1),
  ssl: Ssl.optional(),
});

/** The admin credential of `adminSecret`: the same shape, where host, port and dbname default to the target's. */
const AdminValueSchema = z.looseObject({
  host: z.string().min(1).max(253).optional(),
  port: Port.optional(),
  dbname: z.string().min(1).max(MAX_IDENTIFIER_BYTES).optional(),
  username: RoleName,
  password: z.string().min(1),
  ssl: Ssl.optional(),
});

/** Where to connect and as whom. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  readonly ssl: boolean;
}

/** A parsed value: the endpoint it names, plus every field as stored (so a new value keeps the unknown ones). */
export interface PostgresValue {
  readonly endpoint: Endpoint;
  readonly fields: Readonly<Record<string, unknown>>;
}

function parseJson(value: SecretValue | undefined, what: string): unknown {
  if (value === undefined) throw new RotationStepError(`the ${what} is missing`);
  if (value.kind !== 'string') throw new RotationStepError(`the ${what} is binary; expected a JSON object`);
  try {
    return JSON.parse(value.string);
  } catch {
    // The parser's message may quote the value: say only what was wrong.
    throw new RotationStepError(`the ${what} is not JSON; expected an object with host, username and password`);
  }
}

function fail(what: string, issue: z.core.$ZodIssue): never {
  const at = issue.path.length === 0 ? '' : ` field ${issue.path.map(String).join('.')}`;
  throw new RotationStepError(`the ${what}${at} is invalid: ${issue.message}`);
}

/**
 * Parses a PostgreSQL secret value (`what` names it in errors: "current value", "pending value").
 * @throws RotationStepError naming the field, never echoing it
 */
export function parseValue(value: SecretValue | undefined, what: string): PostgresValue {
  const raw = parseJson(value, what);
  const parsed = PostgresValueSchema.safeParse(raw, { reportInput: false });
  if (!parsed.success) fail(what, parsed.error.issues[0]!);
  const v = parsed.data;
  return {
    endpoint: {
      host: v.host,
      port: v.port ?? 5432,
      database: v.dbname ?? 'postgres',
      user: v.username,
      password: v.password,
      ssl: v.ssl ?? false,
    },
    // As stored: a port or ssl written as a string stays a string in the next value.
    fields: raw as Record<string, unknown>,
  };
}

/** The JSON of a new value: `fields` with `username` and `password` replaced, in the same key order. */
export function withCredential(fields: Readonly<Record<string, unknown>>, username: string, password: string) {
  return { kind: 'string', string: JSON.stringify({ ...fields, username, password }) } as const;
}

/** The target an admin session is for; host and port are the admin credential's when it has them. */
export interface AdminTarget {
  readonly host?: string | undefined;
  readonly port?: number | undefined;
  readonly database: string;
  readonly ssl?: boolean | undefined;
}

/**
 * Reads and parses the admin credential named by the `adminSecret` setting. The session goes to the credential's
 * host and port (an admin endpoint may differ from the application's), else the target's, and always to the
 * target's database: grants and object ownership are per database.
 * @throws RotationStepError naming the setting when the secret is missing or malformed
 */
export async function readAdmin(secrets: RotationSecrets, adminSecret: string, target: AdminTarget): Promise<Endpoint> {
  let value: SecretValue;
  try {
    value = await secrets.readCurrent(adminSecret);
  } catch (err) {
    if (err instanceof NotFoundError) throw new RotationStepError(`adminSecret: secret ${adminSecret} not found`);
    throw err;
  }
  const what = `admin credential (adminSecret ${adminSecret})`;
  const parsed = AdminValueSchema.safeParse(parseJson(value, what), { reportInput: false });
  if (!parsed.success) fail(what, parsed.error.issues[0]!);
  const a = parsed.data;
  const host = a.host ?? target.host;
  if (host === undefined) throw new RotationStepError(`the ${what} has no host, and the target names none`);
  return {
    host,
    port: a.port ?? target.port ?? 5432,
    database: target.database,
    user: a.username,
    password: a.password,
    ssl: a.ssl ?? target.ssl ?? false,
  };
}

/** The pair of users an alternating secret switches between, and their shared owner role. */
export interface UserPair {
  readonly base: string;
  readonly clone: string;
  readonly owner: string;
}

/**
 * `app` and `app_clone` (whichever of them `username` is), owned through `app_owner`.
 * @throws RotationStepError when a derived name would exceed PostgreSQL's 63-byte identifiers
 */
export function userPair(username: string): UserPair {
  const base = username.endsWith(CLONE_SUFFIX) ? username.slice(0, -CLONE_SUFFIX.length) : username;
  if (base.length === 0) throw new RotationStepError('the username is only "_clone"; cannot derive the base user');
  const longest = Math.max(CLONE_SUFFIX.length, OWNER_SUFFIX.length);
  if (Buffer.byteLength(base, 'utf8') + longest > MAX_IDENTIFIER_BYTES) {
    throw new RotationStepError(
      `the username ${JSON.stringify(username)} is too long for alternating users: the base name must leave room for "${CLONE_SUFFIX}" and "${OWNER_SUFFIX}" within 63 bytes`,
    );
  }
  return { base, clone: `${base}${CLONE_SUFFIX}`, owner: `${base}${OWNER_SUFFIX}` };
}

/** The other user of the pair. */
export function alternateOf(username: string): string {
  const pair = userPair(username);
  return username === pair.clone ? pair.base : pair.clone;
}

/**
 * The target a value points a rotation at (`Rotator.target`): host, port, database and user, the user being the base
 * of an alternating pair so that `app` and `app_clone` pin alike.
 * @throws RotationStepError when the value is not a PostgreSQL secret value
 */
export function pinnedTarget(value: SecretValue, alternating: boolean): Record<string, string> {
  const { endpoint } = parseValue(value, 'current value');
  return {
    host: endpoint.host.toLowerCase(),
    port: String(endpoint.port),
    dbname: endpoint.database,
    user: alternating ? userPair(endpoint.user).base : endpoint.user,
  };
}
