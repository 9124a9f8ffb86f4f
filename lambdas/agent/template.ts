import { CliError, ExitCode } from './exit-codes.ts';
import { DEFAULT_STAGE, type SecretRef, versionKey } from './secret-ref.ts';

/**
 * The agent's template language: plain text with `{{ … }}` actions. It has functions, not code: there are no
 * variables, loops, pipelines or calls into the host, so a template can only read the secrets it names.
 *
 * - `{{ secret "prod/db" }}`: the whole SecretString (AWSCURRENT);
 * - `{{ secret "prod/db" "password" }}`: one key of a JSON SecretString;
 * - `{{ secret "prod/db" "password" stage="AWSPREVIOUS" }}`: at another staging label;
 * - `{{ env "HOME" }}`: an environment variable of the agent (empty if unset);
 * - `{{ "{{" }}`: a string literal, e.g. to write literal braces;
 * - `{{/* a comment *\/}}`: nothing.
 *
 * Strings are double-quoted with JSON escapes. Output is written as is: nothing is HTML- or shell-escaped.
 */
export type TemplatePart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'secret'; readonly ref: SecretRef }
  | { readonly kind: 'env'; readonly name: string };

export interface CompiledTemplate {
  readonly parts: readonly TemplatePart[];
  /** Every secret the template reads, so the agent knows what to fetch and version-check. */
  readonly secrets: readonly SecretRef[];
}

export interface RenderContext {
  /** The selected value (the SecretString, or one field of it). */
  secret(ref: SecretRef): string;
  env(name: string): string | undefined;
}

type Token =
  | { kind: 'ident'; value: string; at: number }
  | { kind: 'string'; value: string; at: number }
  | { kind: 'named'; name: string; value: string; at: number };

/**
 * Parses a template once, at start-up, so a typo fails the agent before it writes anything.
 * @param origin names the template in error messages (a path or `templates[0]`).
 * @throws CliError (usage) with the line and column of the problem.
 * @example compileTemplate('password={{ secret "prod/db" "password" }}\n', 'db.conf')
 */
export function compileTemplate(source: string, origin: string): CompiledTemplate {
  const parts: TemplatePart[] = [];
  const fail = (message: string, offset: number): never => {
    const before = source.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    throw new CliError(`template ${origin}:${line}:${column}: ${message}`, ExitCode.usage);
  };
  let position = 0;
  while (position < source.length) {
    const open = source.indexOf('{{', position);
    if (open < 0) {
      parts.push({ kind: 'text', text: source.slice(position) });
      break;
    }
    if (open > position) parts.push({ kind: 'text', text: source.slice(position, open) });
    const close = findClose(source, open + 2);
    if (close < 0) fail('"{{" is never closed by "}}"', open);
    const body = source.slice(open + 2, close);
    position = close + 2;
    if (/^\s*\/\*[\s\S]*\*\/\s*$/.test(body)) continue;
    const part = parseAction(tokenize(body, open + 2, fail), open, fail);
    parts.push(part);
  }
  const secrets = new Map<string, SecretRef>();
  for (const part of parts) {
    if (part.kind === 'secret') secrets.set(`${versionKey(part.ref)}\u0000${part.ref.field ?? ''}`, part.ref);
  }
  return { parts: mergeText(parts), secrets: [...secrets.values()] };
}

/**
 * Renders a compiled template. Missing secrets or fields throw from `context.secret`, so a render is all or nothing.
 */
export function renderTemplate(template: CompiledTemplate, context: RenderContext): string {
  let out = '';
  for (const part of template.parts) {
    if (part.kind === 'text') out += part.text;
    else if (part.kind === 'env') out += context.env(part.name) ?? '';
    else out += context.secret(part.ref);
  }
  return out;
}

/** The `}}` closing an action, skipping over string literals (which may contain `}}`). */
function findClose(source: string, from: number): number {
  let i = from;
  while (i < source.length) {
    const c = source[i];
    if (c === '"') {
      i++;
      while (i < source.length && source[i] !== '"') i += source[i] === '\\' ? 2 : 1;
      i++;
    } else if (c === '}' && source[i + 1] === '}') {
      return i;
    } else if (c === '{' && source[i + 1] === '{') {
      return -1;
    } else {
      i++;
    }
  }
  return -1;
}

const STRING = /"(?:[^"\\\n]|\\.)*"/y;
const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const SPACE = /\s+/y;

function tokenize(body: string, base: number, fail: (message: string, offset: number) => never): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const readString = (): string => {
    STRING.lastIndex = i;
    const match = STRING.exec(body);
    if (match === null) return fail('unterminated or invalid string', base + i);
    i = STRING.lastIndex;
    try {
      return JSON.parse(match[0]) as string;
    } catch {
      return fail('invalid escape in string', base + match.index);
    }
  };
  while (i < body.length) {
    SPACE.lastIndex = i;
    if (SPACE.exec(body) !== null) {
      i = SPACE.lastIndex;
      continue;
    }
    const at = base + i;
    if (body[i] === '"') {
      tokens.push({ kind: 'string', value: readString(), at });
      continue;
    }
    IDENT.lastIndex = i;
    const ident = IDENT.exec(body);
    if (ident === null) fail(`unexpected "${body[i]}"`, at);
    i = IDENT.lastIndex;
    if (body[i] === '=') {
      i++;
      if (body[i] !== '"') fail(`${ident![0]}= takes a string`, base + i);
      tokens.push({ kind: 'named', name: ident![0], value: readString(), at });
    } else {
      tokens.push({ kind: 'ident', value: ident![0], at });
    }
  }
  return tokens;
}

function parseAction(tokens: Token[], at: number, fail: (message: string, offset: number) => never): TemplatePart {
  const [head, ...args] = tokens;
  if (head === undefined) return fail('empty action', at);
  if (head.kind === 'string') {
    if (args.length > 0) fail('a string literal takes no arguments', args[0]!.at);
    return { kind: 'text', text: head.value };
  }
  if (head.kind === 'named') return fail(`unexpected ${head.name}=`, head.at);
  const positional = args.filter((a) => a.kind === 'string').map((a) => a.value);
  const named = new Map<string, string>();
  for (const arg of args) {
    if (arg.kind === 'ident') fail(`unexpected "${arg.value}": arguments are double-quoted strings`, arg.at);
    if (arg.kind === 'named') {
      if (head.value !== 'secret' || arg.name !== 'stage') fail(`unknown option ${arg.name}=`, arg.at);
      named.set(arg.name, arg.value);
    }
  }
  switch (head.value) {
    case 'secret': {
      if (positional.length < 1 || positional.length > 2) {
        fail('secret takes a name and optionally a field: {{ secret "name" "field" }}', head.at);
      }
      const [name, field] = positional as [string, string | undefined];
      if (name.length === 0) fail('empty secret name', head.at);
      if (field !== undefined && field.length === 0) fail('empty field name', head.at);
      const stage = named.get('stage') ?? DEFAULT_STAGE;
      if (stage.length === 0) fail('empty stage', head.at);
      return { kind: 'secret', ref: field === undefined ? { name, stage } : { name, stage, field } };
    }
    case 'env': {
      if (positional.length !== 1) fail('env takes one name: {{ env "HOME" }}', head.at);
      return { kind: 'env', name: positional[0]! };
    }
    default:
      return fail(`unknown function "${head.value}" (known: secret, env)`, head.at);
  }
}

function mergeText(parts: TemplatePart[]): TemplatePart[] {
  const merged: TemplatePart[] = [];
  for (const part of parts) {
    const last = merged.at(-1);
    if (part.kind === 'text' && last?.kind === 'text')
      merged[merged.length - 1] = { kind: 'text', text: last.text + part.text };
    else merged.push(part);
  }
  return merged;
}
