import { CliError } from '../../../agent/exit-codes.ts';
import { namePath } from '../../../sdk/name-path.ts';
import type { ApiClient } from '../api-client.ts';
import type { Progress } from '../progress.ts';
import type { BundleContent, BundleSecret } from './bundle.ts';

interface Described {
  name: string;
  description: string;
  tags: Record<string, string>;
  versionIdsToStages: Record<string, string[]>;
}

/** Every secret under `prefix` the caller may list and read, with every version (labelled or not), oldest first. */
export async function collectBundle(api: ApiClient, prefix: string, progress: Progress): Promise<BundleContent> {
  const names: string[] = [];
  // A prefix that is not a whole folder (`prod/ap` for `prod/api` and `prod/app`) is listed from its folder, then
  // filtered by name.
  const folder = prefix.slice(0, prefix.lastIndexOf('/') + 1).replace(/\/+$/, '');
  const path = folder === '' ? '/v1/secret/list' : `/v1/secret/list/${namePath(folder)}`;
  let cursor: string | undefined;
  do {
    const page = await api.call<{ entries: Array<{ name: string; kind: string }>; nextCursor?: string }>('GET', path, {
      query: { recursive: 'true', cursor },
    });
    names.push(...page.entries.filter((e) => e.kind === 'secret' && e.name.startsWith(prefix)).map((e) => e.name));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  const secrets: BundleSecret[] = [];
  for (const [index, name] of names.entries()) {
    secrets.push(await exportSecret(api, name));
    progress.step(`${index + 1}/${names.length} ${name}`, { done: index + 1, total: names.length });
  }
  return { secrets };
}

/**
 * One secret, whole. A secret that cannot be read fails the export, naming it: a backup that silently left some
 * secrets out would be found wanting only when it is restored.
 */
async function exportSecret(api: ApiClient, name: string): Promise<BundleSecret> {
  try {
    return await readSecret(api, name);
  } catch (err) {
    if (err instanceof CliError) throw new CliError(`${name}: ${err.message}`, err.exitCode);
    throw err;
  }
}

async function readSecret(api: ApiClient, name: string): Promise<BundleSecret> {
  const d = await api.call<Described>('GET', `/v1/secret/metadata/${namePath(name)}`);
  const versions: Array<{ versionId: string; versionStages: string[]; createdAt: string }> = [];
  let next: string | undefined;
  do {
    const page = await api.call<{ versions: typeof versions; nextCursor?: string }>(
      'GET',
      `/v1/secret/versions/${namePath(name)}`,
      { query: { includeDeprecated: 'true', cursor: next } },
    );
    versions.push(...page.versions);
    next = page.nextCursor;
  } while (next !== undefined);
  // Newest first from the API; reversed before a stable sort, so versions of the same millisecond keep their order.
  versions.reverse().sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const withValues: BundleSecret['versions'] = [];
  for (const v of versions) {
    const read = await api.call<{ value?: string; binary?: string }>('GET', `/v1/secret/data/${namePath(name)}`, {
      query: { versionId: v.versionId },
    });
    const value = read.binary !== undefined ? { binary: read.binary } : { value: read.value ?? '' };
    withValues.push({
      versionId: v.versionId,
      stages: d.versionIdsToStages[v.versionId] ?? [],
      createdAt: v.createdAt,
      ...value,
    });
  }
  return { name, description: d.description, tags: d.tags, versions: withValues };
}
