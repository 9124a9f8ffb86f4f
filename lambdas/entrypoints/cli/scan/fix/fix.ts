import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../../../agent/atomic-file.ts';
import type { ApiClient } from '../../api-client.ts';
import { type ConflictPolicy, holdsValue, Importer, type ItemResult } from '../../import/importer.ts';
import { ImportJournal } from '../../import/resume.ts';
import { type ImportSource, type SourceItem, stringValue } from '../../import/source.ts';
import type { Progress } from '../../progress.ts';
import type { Finding } from '../finding.ts';
import { unifiedDiff } from './diff.ts';
import { envName } from './naming.ts';
import { applyItems, type FilePlan, type FixItem, type FixKind, planFile, withoutCollisions } from './plan.ts';

export interface FixOptions {
  readonly prefix: string;
  readonly nameTemplate: string;
  readonly onConflict: ConflictPolicy;
  /** Import nothing, write nothing: plan and show the diff. */
  readonly dryRun: boolean;
  /** Rewrite the files, each replacement only once its secret is in Coffer. */
  readonly write: boolean;
  readonly cwd: string;
}

/**
 * - `fixed`: in Coffer and replaced in the file (`--write`);
 * - `proposed`: in Coffer (or, on a dry run, planned) and its replacement is in the diff;
 * - `manual`: in Coffer, but the change in the file is left to you (source code);
 * - `failed`: not moved (the import failed, an invalid name, the file changed): the file is left as it was.
 */
export type FixOutcome = 'fixed' | 'proposed' | 'manual' | 'failed';

/** What became of one secret found. Never holds its value. */
export interface FixResult {
  readonly path: string;
  readonly line: number;
  readonly kind: FixKind;
  readonly ruleIds: readonly string[];
  readonly redacted: string;
  readonly key?: string | undefined;
  readonly name: string;
  /** What replaces it in the file, or a `coffer run --secret` binding to use where the file is left to you. */
  readonly reference?: string | undefined;
  /** What the import did: created, updated, exists (with this value), or on a dry run the plan (`create`, …). */
  readonly imported?: string | undefined;
  readonly outcome: FixOutcome;
  readonly reason?: string | undefined;
}

export interface FixReport {
  readonly results: readonly FixResult[];
  /** The unified diff of every replacement, secrets redacted. */
  readonly diff: string;
  /** Files rewritten (`--write`). */
  readonly written: readonly string[];
}

/** Plans every file's replacements from the findings of a work-tree scan (paths relative to `cwd`). */
export async function planFixes(
  findings: readonly Finding[],
  options: Pick<FixOptions, 'prefix' | 'nameTemplate' | 'cwd'>,
): Promise<FilePlan[]> {
  const byPath = new Map<string, Finding[]>();
  for (const finding of findings) byPath.set(finding.path, [...(byPath.get(finding.path) ?? []), finding]);
  const plans: FilePlan[] = [];
  for (const [file, found] of byPath) {
    const content = await readFile(path.resolve(options.cwd, file), 'utf8');
    plans.push(planFile(file, content, found, { prefix: options.prefix, template: options.nameTemplate }));
  }
  return withoutCollisions(plans);
}

/**
 * Moves each planned secret into Coffer as the caller (through the importer: the caller's policies, the conflict
 * policy, no silent overwrite), then, with `write`, replaces in each file only the secrets that are in Coffer with
 * that very value. A secret whose import failed is left in its file and reported.
 */
export async function applyFixes(
  api: ApiClient,
  plans: readonly FilePlan[],
  options: FixOptions,
  progress: Progress,
): Promise<FixReport> {
  const items = plans.flatMap((plan) => plan.items);
  const imported = await importItems(api, items, options, progress);

  const status = new Map<FixItem, { ok: boolean; imported?: string; reason?: string }>();
  for (const item of items) {
    if (item.error !== undefined) {
      status.set(item, { ok: false, reason: item.error });
      continue;
    }
    status.set(item, imported.get(item.name) ?? { ok: false, reason: 'not imported' });
  }

  const written: string[] = [];
  const writeFailed = new Map<FixItem, string>();
  if (options.write && !options.dryRun) {
    for (const plan of plans) {
      const edits = plan.items.filter((item) => item.replacement !== undefined && status.get(item)?.ok === true);
      if (edits.length === 0) continue;
      const reason = await rewrite(path.resolve(options.cwd, plan.path), plan, edits);
      if (reason === undefined) written.push(plan.path);
      else for (const item of edits) writeFailed.set(item, reason);
    }
  }

  const results = items.map((item): FixResult => {
    const state = status.get(item)!;
    const failure = writeFailed.get(item) ?? (state.ok ? undefined : state.reason);
    const replaced = options.write && !options.dryRun && failure === undefined && written.includes(item.path);
    const outcome: FixOutcome =
      failure !== undefined ? 'failed' : item.replacement === undefined ? 'manual' : replaced ? 'fixed' : 'proposed';
    return {
      path: item.path,
      line: item.line,
      kind: item.kind,
      ruleIds: [...new Set(item.findings.map((f) => f.ruleId))],
      redacted: item.findings[0]!.redacted,
      key: item.key,
      name: item.name,
      reference:
        item.replacement ??
        (item.name === ''
          ? undefined
          : `--secret ${envName(item.key ?? item.name.slice(item.name.lastIndexOf('/') + 1))}=${item.name}`),
      imported: state.imported,
      outcome,
      reason: failure ?? item.note,
    };
  });

  const diff = plans
    .map((plan) =>
      unifiedDiff(
        plan.path,
        plan.content,
        plan.items.map((item) => ({
          start: item.start,
          end: item.end,
          replacement: status.get(item)?.ok === true && !writeFailed.has(item) ? item.replacement : undefined,
        })),
      ),
    )
    .join('');
  return { results, diff, written };
}

/** One import item per distinct secret (one value found in several places is imported once). */
async function importItems(
  api: ApiClient,
  items: readonly FixItem[],
  options: FixOptions,
  progress: Progress,
): Promise<Map<string, { ok: boolean; imported?: string; reason?: string }>> {
  const byName = new Map<string, FixItem>();
  for (const item of items) if (item.error === undefined && !byName.has(item.name)) byName.set(item.name, item);
  const sourceItems: SourceItem[] = [...byName.values()].map((item) => ({
    key: `${item.path}:${item.line}`,
    vars: { name: item.name },
    versions: [{ value: stringValue(item.value) }],
    description: `moved out of ${item.path}:${item.line} by coffer scan --fix`,
  }));
  const source: ImportSource = { label: 'scan', defaultTemplate: '{{name}}', items: async () => sourceItems };
  const importer = new Importer(api, ImportJournal.ephemeral(), {
    nameTemplate: '{{name}}',
    onConflict: options.onConflict,
    dryRun: options.dryRun,
  });
  const results: ItemResult[] = await importer.run(source, sourceItems, progress);
  const status = new Map<string, { ok: boolean; imported?: string; reason?: string }>();
  for (const result of results) {
    const item = byName.get(result.name)!;
    status.set(result.name, await statusOf(api, result, item, options.dryRun));
  }
  return status;
}

async function statusOf(
  api: ApiClient,
  result: ItemResult,
  item: FixItem,
  dryRun: boolean,
): Promise<{ ok: boolean; imported?: string; reason?: string }> {
  // The default policy leaves an existing secret alone: a reference to it is right only if it holds this value. A dry
  // run compares too (a read changes nothing), so its plan says what the fix will do.
  const existing = async () =>
    (await holdsValue(api, result.name, stringValue(item.value)))
      ? { ok: true, imported: 'exists' }
      : {
          ok: false,
          imported: 'skipped',
          reason:
            `${result.name} exists with another value (or this token may not read it): left in the file; ` +
            'use --on-conflict new-version to store this value as its newest version, or another --prefix',
        };
  if (dryRun) {
    if (result.outcome === 'failed') return { ok: false, imported: 'failed', reason: result.reason };
    return result.action === 'skip' ? existing() : { ok: true, imported: result.action };
  }
  switch (result.outcome) {
    case 'created':
    case 'updated':
      return { ok: true, imported: result.outcome };
    case 'skipped':
      return result.reason === 'unchanged' ? { ok: true, imported: 'exists' } : existing();
    default:
      return { ok: false, imported: 'failed', reason: result.reason ?? 'import failed' };
  }
}

/** Rewrites one file, unless it changed since it was scanned; answers why it was not rewritten, if it was not. */
async function rewrite(absolute: string, plan: FilePlan, edits: readonly FixItem[]): Promise<string | undefined> {
  try {
    const [bytes, info] = await Promise.all([readFile(absolute), stat(absolute)]);
    const now = bytes.toString('utf8');
    // Text that is not UTF-8 (a Latin-1 file) was read with replacement characters: written back, it would be damaged.
    if (!Buffer.from(now, 'utf8').equals(bytes)) return `${plan.path} is not UTF-8 text: replace the secret by hand`;
    if (now !== plan.content) return `${plan.path} changed since it was scanned: scan again`;
    await writeFileAtomic(absolute, applyItems(plan.content, edits), info.mode & 0o7777);
    return undefined;
  } catch (err) {
    return `cannot write ${plan.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
}
