import path from 'node:path';
import { SecretNameSchema } from '../../../../core/secrets/secret-schema.ts';
import { targetName } from '../../import/importer.ts';

/** The name template `coffer scan --fix` uses when `--name-template` is not given. */
export const DEFAULT_FIX_TEMPLATE = '{{key}}';

/**
 * A name for Coffer from a variable or key name: lowercase words joined by `-`, as secret names are usually written.
 * @example slug('DB_PASSWORD') // 'db-password'
 * @example slug('clientSecret') // 'client-secret'
 * @example slug('spring.datasource.password') // 'spring-datasource-password'
 */
export function slug(text: string): string {
  return text
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** An environment variable name for a secret (for `coffer run --secret NAME=…`). @example envName('db-password') // 'DB_PASSWORD' */
export function envName(text: string): string {
  const name = slug(text).replace(/-/g, '_').toUpperCase();
  return /^[A-Z_]/.test(name) ? name : `SECRET_${name}`;
}

/**
 * The `{{variables}}` a finding's name is made from:
 * - `key`: the variable or key the secret is assigned to (`DB_PASSWORD` → `db-password`), or the file's name when no
 *   assignment holds it (a PEM file);
 * - `file`: the file's path without its extension (`deploy/settings.yaml` → `deploy/settings`, `.env.prod` → `env-prod`);
 * - `source`: the file's name as `coffer import dotenv:` names it (`.env.prod`, `prod.env` → `prod`; `.env` → `env`;
 *   `settings.yaml` → `settings`);
 * - `line`: the finding's line.
 */
export function nameVariables(filePath: string, key: string | undefined, line: number): Record<string, string> {
  const base = path.posix.basename(filePath);
  const stem = base.replace(/^\.+/, '').replace(/\.[^.]*$/, '') || base;
  const dotenvStem = /(?:^|\.)env\.(.+)$/.exec(base)?.[1] ?? /^(.+)\.env$/.exec(base)?.[1];
  const source = slug(dotenvStem ?? (base === '.env' ? 'env' : stem)) || 'file';
  const folder = path.posix.dirname(filePath);
  const fileName =
    slug(
      base.replace(/^\.+/, '').replace(/\.(?:ya?ml|json|toml|ini|properties|conf|cfg|config|xml|pem|key|txt)$/, ''),
    ) || 'file';
  const file = [
    ...(folder === '.'
      ? []
      : folder
          .split('/')
          .map(slug)
          .filter((part) => part !== '')),
    fileName,
  ].join('/');
  return { key: key === undefined ? slug(stem) || 'secret' : slug(key) || 'secret', file, source, line: String(line) };
}

/** The secret name: `prefix` + the template filled; an invalid name is an error that says why. */
export function fixName(template: string, vars: Readonly<Record<string, string>>, prefix: string): string {
  const name = targetName(template, vars, prefix);
  const valid = SecretNameSchema.safeParse(name);
  if (!valid.success) throw new Error(`"${name}" is not a valid secret name: ${valid.error.issues[0]?.message ?? ''}`);
  return name;
}

/**
 * The key a secret is assigned to on its line: `DB_PASSWORD=`, `client_secret: `, `"apiKey": "`, `token := "`. First the
 * assignment right before the secret, then the first assignment on the line (a password inside a URL:
 * `url: postgres://app:pw@db`), else none.
 */
export function keyBefore(lineText: string, column: number): string | undefined {
  const before = lineText.slice(0, column - 1);
  const direct = /(?:^|[\s{,(])["']?([A-Za-z_][A-Za-z0-9_.-]*)["']?[ \t]*(?::=|=>|=|:)[ \t]*["'`]?$/.exec(before);
  if (direct?.[1] !== undefined) return direct[1];
  const first = /^(?:\s*-)?\s*(?:export\s+)?["']?([A-Za-z_][A-Za-z0-9_.-]*)["']?[ \t]*(?::=|=>|=|:)/.exec(before);
  return first?.[1];
}
