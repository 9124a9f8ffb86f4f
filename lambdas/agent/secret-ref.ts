import { CliError, ExitCode } from './exit-codes.ts';

/** The staging label read when a reference names none. */
export const DEFAULT_STAGE = 'AWSCURRENT';

/** Which value to inject: a secret (at a staging label), optionally one key of its JSON SecretString. */
export interface SecretRef {
  readonly name: string;
  readonly stage: string;
  /** A top-level key of a JSON object SecretString; the whole SecretString when absent. */
  readonly field?: string;
}

/** Environment variable names `coffer run` and the agent accept: portable POSIX names only. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses `secret[#jsonField][@versionStage]`.
 *
 * Secret names may contain `@` (never `#`), so the stage is whatever follows the LAST `@`: a name or field that
 * contains `@` must therefore end with an explicit stage, e.g. `ops/alice@example.com@AWSCURRENT`.
 *
 * @throws CliError (usage) for an empty name, field or stage.
 * @example parseSecretRef('prod/db#password@AWSPREVIOUS') // { name: 'prod/db', field: 'password', stage: 'AWSPREVIOUS' }
 */
export function parseSecretRef(text: string): SecretRef {
  const bad = (why: string) =>
    new CliError(`invalid secret reference "${text}": ${why} (expected secret[#field][@stage])`, ExitCode.usage);
  let rest = text;
  let stage = DEFAULT_STAGE;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    stage = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (stage.length === 0) throw bad('empty stage after "@"');
  }
  const hash = rest.indexOf('#');
  const name = hash >= 0 ? rest.slice(0, hash) : rest;
  if (name.length === 0) throw bad('empty secret name');
  if (hash < 0) return { name, stage };
  const field = rest.slice(hash + 1);
  if (field.length === 0) throw bad('empty field after "#"');
  return { name, stage, field };
}

/**
 * Parses one `NAME=secret[#field][@stage]` binding of `coffer run --secret` / the agent's `exec.env`.
 * @example parseEnvBinding('DB_PASSWORD=prod/db#password') // { variable: 'DB_PASSWORD', ref: { name: 'prod/db', ... } }
 */
export function parseEnvBinding(text: string): { variable: string; ref: SecretRef } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new CliError(`--secret takes NAME=secret[#field][@stage], got "${text}"`, ExitCode.usage);
  const variable = text.slice(0, eq);
  if (!ENV_NAME.test(variable)) {
    throw new CliError(`invalid environment variable name "${variable}"`, ExitCode.usage);
  }
  return { variable, ref: parseSecretRef(text.slice(eq + 1)) };
}

/** A stable key for one (secret, stage) pair: what the agent fetches and version-checks. */
export const versionKey = (ref: { name: string; stage: string }): string => `${ref.stage}\u0000${ref.name}`;

/** A human label for errors and logs: never includes a value. */
export const describeRef = (ref: SecretRef): string =>
  `${ref.name}${ref.field === undefined ? '' : `#${ref.field}`}${ref.stage === DEFAULT_STAGE ? '' : `@${ref.stage}`}`;

/**
 * Selects the value a reference asks for from a SecretString. A `field` needs a JSON object; strings are returned
 * as they are, other JSON values as JSON text.
 * @throws CliError (not found) when the SecretString is not a JSON object or lacks the field. The message names the
 *   secret and the field, never the value.
 */
export function selectField(ref: SecretRef, secretString: string): string {
  if (ref.field === undefined) return secretString;
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CliError(`secret ${ref.name} is not a JSON object, so it has no field "${ref.field}"`, ExitCode.notFound);
  }
  if (!Object.hasOwn(parsed, ref.field)) {
    throw new CliError(`secret ${ref.name} has no field "${ref.field}"`, ExitCode.notFound);
  }
  const value = (parsed as Record<string, unknown>)[ref.field];
  return typeof value === 'string' ? value : JSON.stringify(value);
}
