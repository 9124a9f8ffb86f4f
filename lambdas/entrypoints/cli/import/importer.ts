import { timingSafeEqual } from 'node:crypto';
import { CliError } from '../../../agent/exit-codes.ts';
import { namePath } from '../../../sdk/name-path.ts';
import type { ApiClient } from '../api-client.ts';
import type { Progress } from '../progress.ts';
import type { ImportJournal } from './resume.ts';
import type { ImportSource, SourceItem, SourceValue } from './source.ts';

export type ConflictPolicy = 'skip' | 'overwrite' | 'new-version';
export type PlannedAction = 'create' | 'skip' | 'overwrite' | 'new-version';
export type Outcome = 'created' | 'updated' | 'skipped' | 'failed';

export interface ImportOptions {
  readonly prefix?: string | undefined;
  /** `{{var}}` placeholders filled from the item's variables. @default the source's own template */
  readonly nameTemplate?: string | undefined;
  /** Added to every imported secret (over the source's own tags). */
  readonly tags?: Readonly<Record<string, string>> | undefined;
  /** @default 'skip' */
  readonly onConflict?: ConflictPolicy | undefined;
  readonly dryRun?: boolean | undefined;
  /** Waits between retries of a throttled write. @default setTimeout */
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
}

/**
 * A secret's writes are rate-limited per name (10 a second, bursts of 20, by default): restoring a long history runs
 * into it by design, so a throttled request waits and is sent again, doubling the wait from half a second, six times.
 */
const THROTTLE_RETRIES = 6;
const THROTTLE_FIRST_WAIT_MS = 500;

export interface ItemResult {
  readonly source: string;
  readonly key: string;
  readonly name: string;
  readonly action: PlannedAction;
  readonly versions: number;
  readonly outcome?: Outcome | undefined;
  /** Why an item was skipped or failed; never a value. */
  readonly reason?: string | undefined;
}

/** A label an imported version carries only while its real labels are being put in place: AWS needs one per write. */
export const IMPORT_LABEL = 'coffer-import';

/** Fills `{{var}}` from `vars`; an unknown placeholder is an error naming the ones there are. */
export function targetName(template: string, vars: Readonly<Record<string, string>>, prefix = ''): string {
  const name = template.replace(/\{\{\s*([a-z]+)\s*\}\}/g, (_whole, v: string) => {
    const value = vars[v];
    if (value === undefined) {
      throw new Error(
        `unknown {{${v}}} in the name template; this source has ${Object.keys(vars)
          .map((k) => `{{${k}}}`)
          .join(' ')}`,
      );
    }
    return value;
  });
  return `${prefix}${name}`;
}

const valueBody = (value: SourceValue) =>
  'string' in value ? { value: value.string } : { binary: value.binary.toString('base64') };

interface Described {
  readonly versionIdsToStages: Record<string, string[]>;
  readonly tags: Record<string, string>;
}

/**
 * Moves one source's items into Coffer through the normal API, as the caller: each item is planned (create, skip,
 * overwrite, new version), then written unless it is a dry run. A failed item is reported and the import goes on.
 */
export class Importer {
  constructor(
    private readonly api: ApiClient,
    private readonly journal: ImportJournal,
    private readonly options: ImportOptions,
  ) {}

  async run(source: ImportSource, items: readonly SourceItem[], progress: Progress): Promise<ItemResult[]> {
    const results: ItemResult[] = [];
    const template = this.options.nameTemplate ?? source.defaultTemplate;
    progress.count(0, items.length);
    for (const [index, item] of items.entries()) {
      const result = await this.importItem(source.label, template, item);
      results.push(result);
      const shown = result.outcome ?? result.action;
      progress.step(`${index + 1}/${items.length} ${result.name}: ${shown}`, { done: index + 1, total: items.length });
    }
    return results;
  }

  private async importItem(source: string, template: string, item: SourceItem): Promise<ItemResult> {
    let name: string;
    try {
      name = targetName(template, item.vars, this.options.prefix ?? '');
    } catch (err) {
      return {
        source,
        key: item.key,
        name: '',
        action: 'create',
        versions: 0,
        outcome: 'failed',
        reason: (err as Error).message,
      };
    }
    const base = { source, key: item.key, name, versions: item.versions.length };
    const fingerprint = this.journal.fingerprint(source, item.key, name);
    const before = this.journal.doneBefore(fingerprint);
    if (before !== undefined) {
      return {
        ...base,
        action: 'skip',
        outcome: 'skipped',
        reason: `already imported (${before}) by the interrupted run`,
      };
    }
    if (item.versions.length === 0) {
      return { ...base, action: 'skip', outcome: 'skipped', reason: (item.unavailable ?? ['no value']).join(', ') };
    }
    const dryRun = this.options.dryRun === true;
    let planned: PlannedAction = 'create';
    try {
      const existing = await this.describe(name);
      const ours = this.journal.wasStarted(fingerprint);
      const policy = this.options.onConflict ?? 'skip';
      const action: PlannedAction = existing === undefined || ours ? 'create' : policy;
      planned = action;
      const reason =
        item.unavailable !== undefined && item.unavailable.length > 0 ? item.unavailable.join(', ') : undefined;
      if (dryRun) return { ...base, action, reason };
      if (action === 'skip') return { ...base, action, outcome: 'skipped', reason: 'exists' };
      if (action !== 'create' && (await this.holdsAlready(name, item))) {
        return { ...base, action, outcome: 'skipped', reason: 'unchanged' };
      }
      this.journal.start(fingerprint);
      const tags = { ...item.tags, ...this.options.tags };
      if (action === 'create' && existing === undefined) {
        await this.call('POST', '/v1/secrets', {
          body: { name, description: item.description, tags: Object.keys(tags).length === 0 ? undefined : tags },
        });
      } else if (action === 'overwrite') {
        const removeTagKeys = Object.keys(existing?.tags ?? {}).filter((k) => !(k in tags));
        await this.patch(name, {
          description: item.description ?? '',
          addTags: Object.keys(tags).length === 0 ? undefined : tags,
          removeTagKeys: removeTagKeys.length === 0 ? undefined : removeTagKeys,
        });
      } else {
        // A new version leaves the description alone; a secret this import created and is finishing gets the source's.
        const description = action === 'create' ? item.description : undefined;
        if (Object.keys(tags).length > 0 || description !== undefined) {
          await this.patch(name, { addTags: Object.keys(tags).length === 0 ? undefined : tags, description });
        }
      }
      await this.writeVersions(name, fingerprint, item);
      if (item.versions.some((v) => v.stages !== undefined)) await this.restoreLabels(name, item, action === 'create');
      const outcome: Outcome = action === 'create' ? 'created' : 'updated';
      this.journal.finish(fingerprint, outcome);
      return { ...base, action, outcome, reason };
    } catch (err) {
      const reason = err instanceof CliError || err instanceof Error ? err.message : String(err);
      return { ...base, action: planned, outcome: 'failed', reason };
    }
  }

  private async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: { body?: unknown; query?: Record<string, string | number | boolean | undefined> } = {},
  ): Promise<T> {
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.api.call<T>(method, path, options);
      } catch (err) {
        // The CLI's client reports the server's error code in parentheses; `throttled` is the 429 of a write rate.
        const throttled = err instanceof CliError && err.message.endsWith('(throttled)');
        if (!throttled || attempt >= THROTTLE_RETRIES) throw err;
        await sleep(THROTTLE_FIRST_WAIT_MS * 2 ** attempt);
      }
    }
  }

  /** The secret as it stands, or undefined when there is none (or the caller may not read it: the writes decide). */
  private async describe(name: string): Promise<Described | undefined> {
    try {
      return await this.call<Described>('GET', `/v1/secret/metadata/${namePath(name)}`);
    } catch (err) {
      if (err instanceof CliError && (err.exitCode === 3 || err.exitCode === 4)) return undefined;
      throw err;
    }
  }

  /**
   * Whether a one-version item's value is already the secret's current one, so re-running an import with
   * `new-version` or `overwrite` adds no copy of it. Compared in constant time; a caller who may not read just writes.
   */
  private async holdsAlready(name: string, item: SourceItem): Promise<boolean> {
    if (item.versions.length !== 1) return false;
    return holdsValue(this.api, name, item.versions[0]!.value);
  }

  private async patch(name: string, body: Record<string, unknown>): Promise<void> {
    await this.call('PATCH', `/v1/secret/metadata/${namePath(name)}`, { body });
  }

  private async writeVersions(name: string, fingerprint: string, item: SourceItem): Promise<void> {
    for (const [index, version] of item.versions.entries()) {
      const stages =
        version.stages === undefined ? undefined : version.stages.length === 0 ? [IMPORT_LABEL] : [...version.stages];
      await this.call('PUT', `/v1/secret/data/${namePath(name)}`, {
        body: {
          ...valueBody(version.value),
          clientRequestToken: version.versionId ?? this.journal.versionId(fingerprint, index),
          stages,
        },
      });
    }
  }

  /**
   * Puts every label where the source had it. Writing versions one by one moves AWSCURRENT and AWSPREVIOUS as any
   * write does, and a secret's first version is always current; this moves each label back, AWSCURRENT first (its
   * move carries AWSPREVIOUS along), then takes off the labels the source did not have: the temporary import label
   * always, and on a secret this import created, any other.
   */
  private async restoreLabels(name: string, item: SourceItem, created: boolean): Promise<void> {
    const desired = new Map<string, string>();
    for (const v of item.versions)
      for (const label of v.stages ?? []) if (v.versionId !== undefined) desired.set(label, v.versionId);
    const order = [...desired.keys()].sort((a, b) => (a === 'AWSCURRENT' ? -1 : b === 'AWSCURRENT' ? 1 : 0));
    const holderOf = async () => {
      const d = await this.describe(name);
      const holders = new Map<string, string>();
      for (const [versionId, labels] of Object.entries(d?.versionIdsToStages ?? {})) {
        for (const label of labels) holders.set(label, versionId);
      }
      return holders;
    };
    for (const label of order) {
      const holder = (await holderOf()).get(label);
      const target = desired.get(label)!;
      if (holder === target) continue;
      await this.call('POST', `/v1/secret/stages/${namePath(name)}`, {
        body: { stage: label, moveToVersionId: target, removeFromVersionId: holder },
      });
    }
    for (const [label, holder] of await holderOf()) {
      if (desired.has(label) || label === 'AWSCURRENT') continue;
      if (label !== IMPORT_LABEL && !created) continue;
      await this.call('POST', `/v1/secret/stages/${namePath(name)}`, {
        body: { stage: label, removeFromVersionId: holder },
      });
    }
  }
}

/**
 * Whether `value` is the secret's current one, compared in constant time. False when the secret does not exist or the
 * caller may not read it.
 */
export async function holdsValue(api: ApiClient, name: string, wanted: SourceValue): Promise<boolean> {
  const current = await api
    .call<{ value?: string; binary?: string }>('GET', `/v1/secret/data/${namePath(name)}`)
    .catch(() => undefined);
  if (current === undefined) return false;
  const have =
    current.binary !== undefined ? Buffer.from(current.binary, 'base64') : Buffer.from(current.value ?? '', 'utf8');
  const want = 'string' in wanted ? Buffer.from(wanted.string, 'utf8') : wanted.binary;
  const isBinary = 'binary' in wanted;
  return isBinary === (current.binary !== undefined) && have.length === want.length && timingSafeEqual(have, want);
}

/** Counts by source and outcome, for the summary. */
export function summarise(results: readonly ItemResult[]): Array<Record<string, string | number>> {
  const bySource = new Map<string, Record<Outcome, number>>();
  for (const r of results) {
    const counts = bySource.get(r.source) ?? { created: 0, updated: 0, skipped: 0, failed: 0 };
    if (r.outcome !== undefined) counts[r.outcome]++;
    bySource.set(r.source, counts);
  }
  return [...bySource].map(([source, counts]) => ({ source, ...counts }));
}
