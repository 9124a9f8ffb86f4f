import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError, ExitCode } from '../../agent/exit-codes.ts';
import { sigv4Authoriser } from '../../sdk/auth.ts';
import { ApiClient, type ApiClientOptions } from './api-client.ts';

export type OutputFormat = 'json' | 'table';

export interface GlobalOptions {
  output: OutputFormat;
  address: string;
  token: string | undefined;
  /** `--wrap-ttl` / COFFER_WRAP_TTL: ask for credential-bearing answers response-wrapped. */
  wrapTtl: string | undefined;
  /** `--region` / COFFER_REGION: the region requests act in (`X-Coffer-Region`). @default the node's home region */
  region: string | undefined;
}

/** Global options live on the root command; every subcommand reads them through here. */
export function globals(command: Command): GlobalOptions {
  const opts = command.optsWithGlobals<{
    output?: string;
    address?: string;
    token?: string;
    wrapTtl?: string;
    region?: string;
  }>();
  const output = opts.output ?? 'table';
  if (output !== 'json' && output !== 'table') throw new CliError('--output must be json or table', ExitCode.usage);
  return {
    output,
    address: opts.address ?? process.env.COFFER_ADDR ?? 'http://127.0.0.1:8270',
    token: opts.token ?? (process.env.COFFER_TOKEN === '' ? undefined : process.env.COFFER_TOKEN),
    wrapTtl: opts.wrapTtl ?? (process.env.COFFER_WRAP_TTL === '' ? undefined : process.env.COFFER_WRAP_TTL),
    region: opts.region ?? (process.env.COFFER_REGION === '' ? undefined : process.env.COFFER_REGION),
  };
}

/**
 * Without a token and with `COFFER_AUTH=sigv4`, requests are SigV4-signed with the default AWS credential chain:
 * signing name `COFFER_SIGNING_SERVICE` (`execute-api` for the AWS deployment, whose IAM authoriser checks it;
 * `coffer` for a local node and a Coffer access key).
 */
export function client(
  command: Command,
  tls: Pick<ApiClientOptions, 'clientCertFile' | 'clientKeyFile'> = {},
): ApiClient {
  const { address, token, wrapTtl, region } = globals(command);
  const regional = region === undefined ? {} : { region };
  const wrapping =
    wrapTtl === undefined
      ? {}
      : {
          wrapTtl,
          onWrapped: (wrapInfo: Record<string, unknown>) =>
            print(command, { wrap_info: wrapInfo }, () => tableOf(wrapInfo)),
        };
  if (token === undefined && process.env.COFFER_AUTH === 'sigv4') {
    const service = process.env.COFFER_SIGNING_SERVICE ?? 'execute-api';
    return new ApiClient({ address, token, sign: sigv4Authoriser({ service }), ...wrapping, ...regional, ...tls });
  }
  if (process.env.COFFER_AUTH !== undefined && process.env.COFFER_AUTH !== 'sigv4' && process.env.COFFER_AUTH !== '') {
    throw new CliError('COFFER_AUTH must be sigv4 (or unset, for a token)', ExitCode.usage);
  }
  return new ApiClient({ address, token, ...wrapping, ...regional, ...tls });
}

/**
 * Reads a secret value from a file or stdin, never from argv, so it stays out of shell history and `ps`.
 * A single trailing newline (from `echo` or an editor) is dropped unless `keepNewline`.
 */
export async function readSecretInput(
  file: string | undefined,
  options: { keepNewline?: boolean } = {},
): Promise<Buffer> {
  let data: Buffer;
  if (file !== undefined && file !== '-') {
    data = await readFile(file).catch((err: NodeJS.ErrnoException) => {
      throw new CliError(`cannot read ${file}: ${err.code ?? 'error'}`, ExitCode.usage);
    });
  } else {
    if (process.stdin.isTTY) {
      throw new CliError('no value: pipe it on stdin or pass --file <path>', ExitCode.usage);
    }
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    data = Buffer.concat(chunks);
  }
  if (options.keepNewline !== true && data.at(-1) === 0x0a) {
    data = data.subarray(0, data.at(-2) === 0x0d ? -2 : -1);
  }
  return data;
}

/**
 * Every answer honours `--output`: a command without a table of its own gets the generic one, so `--output table`
 * never silently falls back to JSON.
 */
export function print(command: Command, value: unknown, table: () => string = () => tableOf(value)): void {
  const { output } = globals(command);
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  } else {
    const text = table();
    process.stdout.write(text.endsWith('\n') || text.length === 0 ? text : `${text}\n`);
  }
}

/** What an empty list says in table mode: a blank output reads as a hang or a failure (gh says "no … found"). */
/**
 * `get <name>`, `list` and `delete <name>` under an engine's `role` command, over `<rolesPath>/<name>` (the PKI, SSH
 * and OAuth engines answer them alike).
 */
export function addRoleReadCommands(roles: Command, rolesPath: string): void {
  const rolePath = (name: string) => `${rolesPath}/${encodeURIComponent(name)}`;
  roles.command('get <name>').action(async (name: string, _flags: unknown, command: Command) => {
    print(command, await client(command).call('GET', rolePath(name)));
  });
  roles.command('list').action(async (_flags: unknown, command: Command) => {
    const listed = await client(command).call<{ roles: string[] }>('GET', rolesPath);
    print(command, listed, () => nameList(listed.roles));
  });
  roles.command('delete <name>').action(async (name: string, _flags: unknown, command: Command) => {
    print(command, await client(command).call('DELETE', rolePath(name)), () => 'deleted');
  });
}

export const NONE = '(none)';

/** A list for people: the header even when there are no rows, then `(none)`. */
export function listTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return rows.length === 0 ? `${columns([header])}\n${NONE}` : columns([header, ...rows]);
}

/** A list of names, one a line (as `vault list`), or `(none)`. */
export function nameList(names: readonly string[]): string {
  return names.length === 0 ? NONE : names.join('\n');
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v !== 'object' || v === null)) return value.join(',');
  return JSON.stringify(value);
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The generic table: an object (a describe) as two columns of key and value, a list of objects as columns under
 * the union of their keys, anything else as text.
 */
export function tableOf(value: unknown): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return NONE;
    if (!value.every(isRecord)) return value.map(cell).join('\n');
    const keys = [...new Set(value.flatMap((row) => Object.keys(row)))];
    return listTable(
      keys.map((k) => k.toUpperCase()),
      value.map((row) => keys.map((k) => cell(row[k]))),
    );
  }
  if (isRecord(value)) {
    return columns(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, cell(v)]),
    );
  }
  return cell(value);
}

/** Aligned columns for human output. */
export function columns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) => row.map((cell, i) => cell.padEnd(i === row.length - 1 ? 0 : widths[i]!)).join('  '))
    .join('\n');
}

export function keyValues(pairs: readonly string[] | undefined, flag: string): Record<string, string> | undefined {
  if (pairs === undefined || pairs.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`${flag} takes key=value, got "${pair}"`, ExitCode.usage);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function integer(flag: string) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value)) throw new CliError(`${flag} must be an integer`, ExitCode.usage);
    return Number(value);
  };
}
