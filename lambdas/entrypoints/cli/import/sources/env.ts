import path from 'node:path';
import { type ImportSource, stringValue } from '../source.ts';

/**
 * Variables never imported, whatever `--include` says: Coffer's own settings and credentials (COFFER_TOKEN, the
 * bundle passphrase) and the Vault token a Vault import reads.
 */
const NEVER = [/^COFFER_/, /^VAULT_TOKEN$/];

export interface EnvFilter {
  /** Globs (`*`, `?`, `[...]`) a name must match one of. @default every name */
  readonly include?: readonly string[] | undefined;
  /** Globs no imported name may match. @default none */
  readonly exclude?: readonly string[] | undefined;
}

/** `env`: the CLI's own environment, filtered; `{{source}}` is `env`. */
export function envSource(environment: NodeJS.ProcessEnv, filter: EnvFilter = {}): ImportSource {
  const matches = (name: string, globs: readonly string[]) => globs.some((glob) => path.matchesGlob(name, glob));
  return {
    label: 'env',
    defaultTemplate: '{{key}}',
    async items() {
      return Object.keys(environment)
        .sort()
        .filter((name) => !NEVER.some((re) => re.test(name)))
        .filter((name) => filter.include === undefined || filter.include.length === 0 || matches(name, filter.include))
        .filter((name) => filter.exclude === undefined || !matches(name, filter.exclude))
        .map((key) => {
          const value = environment[key] ?? '';
          return {
            key,
            vars: { source: 'env', key },
            versions: value === '' ? [] : [{ value: stringValue(value) }],
            unavailable: value === '' ? ['empty value'] : undefined,
          };
        });
    },
  };
}
