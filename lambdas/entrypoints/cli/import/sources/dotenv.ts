import path from 'node:path';
import { readDotenvFile } from '../../../../agent/dotenv.ts';
import { type ImportSource, stringValue } from '../source.ts';

// The grammar is the agent's, which reads `.env` files of references for its child (`exec.env_file`).
export { type DotenvEntry, dotenvEntries, parseDotenv } from '../../../../agent/dotenv.ts';

/**
 * `dotenv:<file>`: one secret per key; `{{source}}` is the file's name without `.env` (`.env.prod` and `prod.env` →
 * `prod`; `.env` → `env`).
 */
export function dotenvSource(file: string): ImportSource {
  const base = path.basename(file);
  const stem =
    /(?:^|\.)env\.(.+)$/.exec(base)?.[1] ?? /^(.+)\.env$/.exec(base)?.[1] ?? (base === '.env' ? 'env' : base);
  return {
    label: `dotenv:${file}`,
    defaultTemplate: '{{key}}',
    async items() {
      const entries = await readDotenvFile(file);
      return [...entries].map(([key, value]) => ({
        key,
        vars: { source: stem, key },
        versions: value === '' ? [] : [{ value: stringValue(value) }],
        unavailable: value === '' ? ['empty value'] : undefined,
      }));
    },
  };
}
