import { readFile } from 'node:fs/promises';
import { CliError, ExitCode } from './exit-codes.ts';
import { ENV_NAME, parseSecretRef, type SecretRef } from './secret-ref.ts';

/**
 * `.env` syntax as the `dotenv` package and Docker Compose read it (no parser of it is a dependency of Coffer, so this
 * one is kept small and tested line by line):
 * - `KEY=value` and `export KEY=value`; spaces around the key, the `=` and an unquoted value are dropped;
 * - `#` starts a comment on its own line, or after whitespace following an unquoted value;
 * - `'single'` and `` `backtick` `` quotes are literal; `"double"` quotes expand `\n`, `\r`, `\t`, `\"` and `\\`;
 *   any quoted value may span lines;
 * - a later definition of a key wins, as in a shell; `${VAR}` is NOT expanded (the value is stored as written).
 * A line that is none of these is refused with its line number (never its text: it may hold a value).
 */
export function parseDotenv(text: string): Map<string, string> {
  return new Map(dotenvEntries(text).map((entry) => [entry.key, entry.value]));
}

/** One `KEY=value` of a `.env` file, with where its value is written (for `coffer scan --fix`, which rewrites it). */
export interface DotenvEntry {
  readonly key: string;
  readonly value: string;
  /** 1-based line of the key. */
  readonly line: number;
  /** Offsets in the text as given of the value as written, quotes included: what replacing the value replaces. */
  readonly valueStart: number;
  readonly valueEnd: number;
}

/** Every definition of the file in order (a key defined twice appears twice); the grammar is `parseDotenv`'s. */
export function dotenvEntries(text: string): DotenvEntry[] {
  // Offsets are found in the text with CRLF made LF, then moved back past the dropped CRs.
  const droppedCr: number[] = [];
  for (let at = text.indexOf('\r\n'); at !== -1; at = text.indexOf('\r\n', at + 2))
    droppedCr.push(at - droppedCr.length);
  const original = (offset: number) => offset + droppedCr.filter((at) => at < offset).length;
  const entries: DotenvEntry[] = [];
  const source = text.replace(/\r\n?/g, '\n');
  let i = 0;
  let line = 1;
  const fail = (why: string): never => {
    throw new CliError(`line ${line}: ${why}`, ExitCode.usage);
  };
  while (i < source.length) {
    const end = source.indexOf('\n', i) === -1 ? source.length : source.indexOf('\n', i);
    const raw = source.slice(i, end);
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      i = end + 1;
      line++;
      continue;
    }
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=[ \t]*/.exec(raw);
    if (match === null) fail('expected KEY=value');
    const key = match![1]!;
    const keyLine = line;
    let at = i + match![0].length;
    const valueStart = at;
    let valueEnd: number;
    const quote = source[at];
    let value: string;
    if (quote === '"' || quote === "'" || quote === '`') {
      let close = at + 1;
      while (close < source.length && source[close] !== quote) close += quote === '"' && source[close] === '\\' ? 2 : 1;
      if (close >= source.length) fail(`unterminated ${quote} quote`);
      const body = source.slice(at + 1, close);
      value = quote === '"' ? unescapeDouble(body) : body;
      line += (body.match(/\n/g) ?? []).length;
      at = close + 1;
      valueEnd = at;
      const restEnd = source.indexOf('\n', at) === -1 ? source.length : source.indexOf('\n', at);
      const rest = source.slice(at, restEnd).trim();
      if (rest !== '' && !rest.startsWith('#')) fail('unexpected text after the closing quote');
      i = restEnd + 1;
    } else {
      const rest = source.slice(at, end);
      const comment = /(^|\s)#/.exec(rest);
      const written = comment === null ? rest : rest.slice(0, comment.index);
      value = written.trim();
      valueEnd = at + written.trimEnd().length;
      i = end + 1;
    }
    entries.push({ key, value, line: keyLine, valueStart: original(valueStart), valueEnd: original(valueEnd) });
    line++;
  }
  return entries;
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' };

function unescapeDouble(body: string): string {
  return body.replace(/\\(.)/gs, (whole, c: string) => ESCAPES[c] ?? whole);
}

/** What marks a `.env` value as a reference to a secret rather than the value itself. */
export const ENV_FILE_REFERENCE = 'coffer://';

/** A `.env` file read for a child's environment: `coffer://` values are secrets to read, the others plain values. */
export interface EnvFile {
  /** `NAME` → the secret its value `coffer://secret[#field][@stage]` names. */
  readonly secrets: ReadonlyMap<string, SecretRef>;
  /** `NAME` → the value as the file gives it (settings that are no secrets). */
  readonly plain: ReadonlyMap<string, string>;
}

/**
 * A `.env` file's variables, in file order.
 * @throws CliError (usage) for a file that cannot be read, or a malformed line (named by the file and its number, never
 *   by its text)
 */
export async function readDotenvFile(file: string): Promise<Map<string, string>> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`cannot read ${file}: ${err.code ?? 'error'}`, ExitCode.usage);
  });
  try {
    return parseDotenv(text);
  } catch (err) {
    throw err instanceof CliError ? new CliError(`${file}: ${err.message}`, err.exitCode) : err;
  }
}

/**
 * Reads a `.env` file for `coffer run --env-file` and the agent's `exec.env_file`: what `coffer scan --fix` writes.
 * @throws CliError (usage) for a file that cannot be read, a malformed line (by number, never by text) or a bad
 *   reference.
 */
export async function readEnvFile(file: string): Promise<EnvFile> {
  const entries = await readDotenvFile(file);
  const secrets = new Map<string, SecretRef>();
  const plain = new Map<string, string>();
  for (const [key, value] of entries) {
    if (!ENV_NAME.test(key)) throw new CliError(`${file}: invalid environment variable name "${key}"`, ExitCode.usage);
    if (value.startsWith(ENV_FILE_REFERENCE)) secrets.set(key, parseSecretRef(value.slice(ENV_FILE_REFERENCE.length)));
    else plain.set(key, value);
  }
  return { secrets, plain };
}
