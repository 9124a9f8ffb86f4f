import * as z from 'zod';
import { CliError, ExitCode } from '../../../../agent/exit-codes.ts';
import type { ImportSource, SourceItem, SourceVersion } from '../source.ts';

const VersionMeta = z.object({
  created_time: z.string().optional(),
  deletion_time: z.string().optional(),
  destroyed: z.boolean().optional(),
});
const Metadata = z.object({
  data: z.object({
    current_version: z.number().int(),
    oldest_version: z.number().int().optional(),
    custom_metadata: z.record(z.string(), z.string()).nullable().optional(),
    versions: z.record(z.string(), VersionMeta),
  }),
});
const Listing = z.object({ data: z.object({ keys: z.array(z.string()) }) });
const Data = z.object({ data: z.object({ data: z.record(z.string(), z.unknown()).nullable() }) });

export interface VaultOptions {
  /** The server, with the mount and an optional path below it: `http://127.0.0.1:8200/secret/app`. */
  readonly address: string;
  /** @default process.env.VAULT_TOKEN */
  readonly token: string | undefined;
  /** Vault Enterprise / OpenBao namespace (`X-Vault-Namespace`). */
  readonly namespace?: string | undefined;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/**
 * `vault:<addr>[/<mount>[/<path>]]`: HashiCorp Vault or OpenBao KV version 2 over its HTTP API. Paths are listed
 * recursively (`LIST /v1/<mount>/metadata/<path>`, sent as its documented equal `GET …?list=true`); every version still readable is imported oldest first (so the
 * newest becomes AWSCURRENT and the one before AWSPREVIOUS), as the JSON object of its keys; deleted and destroyed
 * versions are reported and skipped; `custom_metadata` becomes tags. The mount defaults to `secret`.
 */
export function vaultSource(options: VaultOptions): ImportSource {
  const url = new URL(options.address);
  const [mount = 'secret', ...rest] = url.pathname.split('/').filter((s) => s !== '');
  const base = rest.join('/');
  const origin = url.origin;
  const doFetch = options.fetch ?? globalThis.fetch;
  const token = options.token;
  if (token === undefined || token === '') {
    throw new CliError('a Vault import needs VAULT_TOKEN', ExitCode.usage);
  }
  const headers: Record<string, string> = { 'x-vault-token': token };
  if (options.namespace !== undefined) headers['x-vault-namespace'] = options.namespace;

  async function call(method: string, path: string): Promise<{ status: number; body: unknown }> {
    let res: Response;
    try {
      res = await doFetch(`${origin}/v1/${mount}/${path}`, { method, headers });
    } catch (err) {
      const reason = err instanceof Error && err.cause instanceof Error ? err.cause.message : 'connection failed';
      throw new CliError(`cannot reach Vault at ${origin}: ${reason}`, ExitCode.unavailable);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      body = {};
    }
    if (res.status === 403 || res.status === 401) {
      throw new CliError(
        `Vault refused ${method} /v1/${mount}/${path} (${res.status}): check VAULT_TOKEN`,
        ExitCode.denied,
      );
    }
    return { status: res.status, body };
  }

  const encode = (p: string) => p.split('/').map(encodeURIComponent).join('/');

  async function list(prefix: string): Promise<string[]> {
    // `GET ?list=true` is Vault's documented equal of the LIST verb, which some proxies (and node:http) do not pass.
    const { status, body } = await call('GET', `metadata/${encode(prefix)}?list=true`);
    if (status === 404) return [];
    if (status !== 200) throw new CliError(`Vault LIST ${prefix || '/'} answered ${status}`, ExitCode.failure);
    const keys = Listing.parse(body).data.keys;
    const found: string[] = [];
    for (const key of keys) {
      const full = prefix === '' ? key : `${prefix.replace(/\/$/, '')}/${key}`;
      if (key.endsWith('/')) found.push(...(await list(full)));
      else found.push(full);
    }
    return found;
  }

  async function item(path: string): Promise<SourceItem> {
    const meta = await call('GET', `metadata/${encode(path)}`);
    if (meta.status !== 200) throw new CliError(`Vault metadata of ${path} answered ${meta.status}`, ExitCode.failure);
    const { versions: byNumber, custom_metadata } = Metadata.parse(meta.body).data;
    const numbers = Object.keys(byNumber)
      .map(Number)
      .sort((a, b) => a - b);
    const versions: SourceVersion[] = [];
    const unavailable: string[] = [];
    for (const n of numbers) {
      const v = byNumber[String(n)]!;
      if (v.destroyed === true) {
        unavailable.push(`version ${n} destroyed`);
        continue;
      }
      if (v.deletion_time !== undefined && v.deletion_time !== '') {
        unavailable.push(`version ${n} deleted`);
        continue;
      }
      const got = await call('GET', `data/${encode(path)}?version=${n}`);
      if (got.status === 404) {
        unavailable.push(`version ${n} deleted`);
        continue;
      }
      if (got.status !== 200)
        throw new CliError(`Vault read of ${path} v${n} answered ${got.status}`, ExitCode.failure);
      const data = Data.parse(got.body).data.data;
      if (data === null) {
        unavailable.push(`version ${n} deleted`);
        continue;
      }
      versions.push({ value: { string: JSON.stringify(data) } });
    }
    const relative = base === '' ? path : path.slice(base.length).replace(/^\//, '') || path.split('/').at(-1)!;
    return {
      key: `${mount}/${path}`,
      vars: { source: mount, mount, path, key: relative },
      versions,
      unavailable,
      tags: custom_metadata ?? undefined,
    };
  }

  return {
    label: `vault:${origin}/${mount}${base === '' ? '' : `/${base}`}`,
    defaultTemplate: '{{path}}',
    async items() {
      // The base may name one secret rather than a folder: it is then imported alone.
      const paths = base === '' ? await list('') : await list(`${base}/`);
      if (paths.length === 0 && base !== '') {
        const meta = await call('GET', `metadata/${encode(base)}`);
        if (meta.status === 200) paths.push(base);
      }
      const items: SourceItem[] = [];
      for (const path of paths) items.push(await item(path));
      return items;
    },
  };
}
