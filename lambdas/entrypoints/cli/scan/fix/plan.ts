import path from 'node:path';
import { compileTemplate, renderTemplate } from '../../../../agent/template.ts';
import { dotenvEntries } from '../../import/sources/dotenv.ts';
import type { Finding } from '../finding.ts';
import { fixName, keyBefore, nameVariables } from './naming.ts';

/**
 * How a file's secrets are replaced:
 * - `dotenv`: the value becomes a reference, `DB_PASSWORD=coffer://app/db-password`, which `coffer run --env-file`
 *   resolves;
 * - `template`: a config file becomes an agent template, the secret replaced by `{{ secret "app/db-password" }}`: the
 *   agent renders the file as it was;
 * - `manual`: source code and other files; the secret is imported and the change is described, not made.
 */
export type FixKind = 'dotenv' | 'template' | 'manual';

/** Config files the agent can render from a template: formats that hold values, not code. */
const TEMPLATE_EXTENSIONS = new Set([
  '.yaml',
  '.yml',
  '.json',
  '.toml',
  '.ini',
  '.properties',
  '.conf',
  '.cfg',
  '.config',
  '.xml',
  '.pem',
  '.key',
]);

export const REFERENCE_SCHEME = 'coffer://';

export function fileKind(filePath: string): FixKind {
  const base = path.posix.basename(filePath);
  if (base === '.env' || base.startsWith('.env.') || base.endsWith('.env')) return 'dotenv';
  return TEMPLATE_EXTENSIONS.has(path.posix.extname(base).toLowerCase()) ? 'template' : 'manual';
}

/** One secret to move: a value in a file, the findings it answers, its name in Coffer and what replaces it. */
export interface FixItem {
  readonly path: string;
  readonly line: number;
  readonly kind: FixKind;
  readonly findings: readonly Finding[];
  /** The variable or key as written (`DB_PASSWORD`), when there is one. */
  readonly key?: string | undefined;
  /** The secret's name in Coffer; empty when it could not be made (see `error`). */
  readonly name: string;
  /** The secret itself: imported, never printed. */
  readonly value: string;
  /** What is replaced in the file: the value as written (quotes included, for `.env`) or the secret. */
  readonly start: number;
  readonly end: number;
  /** The reference written in its place; none for `manual`. */
  readonly replacement?: string | undefined;
  /** Why the change is left to the user (`manual`). */
  readonly note?: string | undefined;
  /** Why this secret cannot be moved at all (an invalid name, two values for one name): it is not imported. */
  readonly error?: string | undefined;
}

export interface FilePlan {
  readonly path: string;
  readonly kind: FixKind;
  /** The text the findings were found in: the write refuses a file that changed since. */
  readonly content: string;
  readonly items: readonly FixItem[];
}

export interface NamingOptions {
  readonly prefix: string;
  readonly template: string;
}

/** The 0-based offset of a finding's 1-based line and column. */
export function offsetOf(content: string, line: number, column: number): number {
  let at = 0;
  for (let n = 1; n < line; n++) at = content.indexOf('\n', at) + 1;
  return at + column - 1;
}

function lineText(content: string, line: number): string {
  return content.split('\n')[line - 1] ?? '';
}

/** The span of a finding's secret in its file. */
function spanOf(content: string, finding: Finding): [number, number] {
  return [offsetOf(content, finding.line, finding.column), offsetOf(content, finding.endLine, finding.endColumn)];
}

/**
 * Plans the replacement of every finding in one file (its text as scanned). Pure: reads and writes nothing.
 */
export function planFile(
  filePath: string,
  content: string,
  findings: readonly Finding[],
  naming: NamingOptions,
): FilePlan {
  const kind = fileKind(filePath);
  if (kind === 'dotenv') {
    const planned = planDotenv(filePath, content, findings, naming);
    if (planned !== undefined) return { path: filePath, kind, content, items: planned };
    return {
      path: filePath,
      kind: 'manual',
      content,
      items: planSpans(filePath, content, findings, naming, 'manual', 'not a .env file Coffer can parse'),
    };
  }
  if (kind === 'template') {
    if (content.includes('{{')) {
      const note = 'the file already holds "{{": as an agent template it would not render as it is';
      return {
        path: filePath,
        kind: 'manual',
        content,
        items: planSpans(filePath, content, findings, naming, 'manual', note),
      };
    }
    const items = planSpans(filePath, content, findings, naming, 'template');
    if (!rendersAsOriginal(content, items)) {
      const note = 'as an agent template the file would not render as it is';
      return {
        path: filePath,
        kind: 'manual',
        content,
        items: planSpans(filePath, content, findings, naming, 'manual', note),
      };
    }
    return { path: filePath, kind, content, items };
  }
  return {
    path: filePath,
    kind,
    content,
    items: planSpans(
      filePath,
      content,
      findings,
      naming,
      'manual',
      'source code: read the secret from the environment',
    ),
  };
}

/** One item per `.env` definition that holds a finding; undefined when the file does not parse. */
function planDotenv(
  filePath: string,
  content: string,
  findings: readonly Finding[],
  naming: NamingOptions,
): FixItem[] | undefined {
  let entries: ReturnType<typeof dotenvEntries>;
  try {
    entries = dotenvEntries(content);
  } catch {
    return undefined;
  }
  const byEntry = new Map<number, Finding[]>();
  const loose: Finding[] = [];
  for (const finding of findings) {
    const [start, end] = spanOf(content, finding);
    const index = entries.findIndex((e) => e.valueStart <= start && end <= e.valueEnd);
    if (index === -1) loose.push(finding);
    else byEntry.set(index, [...(byEntry.get(index) ?? []), finding]);
  }
  const items: FixItem[] = [...byEntry].map(([index, found]) => {
    const entry = entries[index]!;
    const named = nameOf(naming, nameVariables(filePath, entry.key, entry.line));
    return {
      path: filePath,
      line: entry.line,
      kind: 'dotenv',
      findings: found,
      key: entry.key,
      ...named,
      value: entry.value,
      start: entry.valueStart,
      end: entry.valueEnd,
      replacement: named.name === '' ? undefined : `${REFERENCE_SCHEME}${named.name}`,
    };
  });
  // A secret in a comment, say: no definition to point elsewhere.
  items.push(...planSpans(filePath, content, loose, naming, 'manual', 'not the value of a KEY=value line'));
  return items.sort((a, b) => a.start - b.start);
}

function planSpans(
  filePath: string,
  content: string,
  findings: readonly Finding[],
  naming: NamingOptions,
  kind: 'template' | 'manual',
  note?: string,
): FixItem[] {
  return findings.map((finding) => {
    const [start, end] = spanOf(content, finding);
    const key = keyBefore(lineText(content, finding.line), finding.column);
    const named = nameOf(naming, nameVariables(filePath, key, finding.line));
    return {
      path: filePath,
      line: finding.line,
      kind,
      findings: [finding],
      key,
      ...named,
      value: content.slice(start, end),
      start,
      end,
      replacement: kind === 'template' && named.name !== '' ? templateAction(named.name) : undefined,
      note,
    };
  });
}

function nameOf(naming: NamingOptions, vars: Record<string, string>): { name: string; error?: string } {
  try {
    return { name: fixName(naming.template, vars, naming.prefix) };
  } catch (err) {
    return { name: '', error: (err as Error).message };
  }
}

/** The agent template action that reads the whole secret. */
export function templateAction(name: string): string {
  return `{{ secret ${JSON.stringify(name)} }}`;
}

/** `text` with each item's span replaced by its replacement (items without one are left as they are). */
export function applyItems(text: string, items: readonly Pick<FixItem, 'start' | 'end' | 'replacement'>[]): string {
  let out = '';
  let at = 0;
  for (const item of [...items].sort((a, b) => a.start - b.start)) {
    if (item.replacement === undefined) continue;
    out += text.slice(at, item.start) + item.replacement;
    at = item.end;
  }
  return out + text.slice(at);
}

/**
 * The check that makes a template safe to write: rendered with the secrets' values, the template is the file as it
 * was, byte for byte.
 */
function rendersAsOriginal(content: string, items: readonly FixItem[]): boolean {
  const values = new Map(items.map((item) => [item.name, item.value]));
  try {
    const compiled = compileTemplate(applyItems(content, items), 'scan --fix');
    const rendered = renderTemplate(compiled, {
      secret: (ref) => {
        const value = values.get(ref.name);
        if (value === undefined) throw new Error('unknown secret');
        return value;
      },
      env: () => undefined,
    });
    return rendered === content;
  } catch {
    return false;
  }
}

/**
 * Two different values planned under one name cannot both be moved: neither is, and each says why. One value found
 * in several places is one secret.
 */
export function withoutCollisions(plans: readonly FilePlan[]): FilePlan[] {
  const valuesByName = new Map<string, Set<string>>();
  for (const item of plans.flatMap((plan) => plan.items)) {
    if (item.error !== undefined) continue;
    valuesByName.set(item.name, (valuesByName.get(item.name) ?? new Set()).add(item.value));
  }
  return plans.map((plan) => ({
    ...plan,
    items: plan.items.map((item) =>
      item.error === undefined && (valuesByName.get(item.name)?.size ?? 0) > 1
        ? {
            ...item,
            replacement: undefined,
            error: `another secret found is also named ${item.name}: choose names with --name-template (e.g. '{{file}}/{{key}}')`,
          }
        : item,
    ),
  }));
}
