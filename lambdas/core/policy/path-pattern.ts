import type { Principal } from '../principal.ts';

/**
 * Policy path patterns and request paths.
 *
 * A pattern is a `/`-separated list of segments: literals, `+` (exactly one segment), and an optional trailing `*`
 * that turns the last segment into a prefix (`secrets/prod/*`, and also `secrets/prod*`, which matches
 * `secrets/production/x` as in Vault). Literal segments may embed templates such as `{{principal.id}}`, filled in from
 * the caller; a templated value is always literal text, never a wildcard.
 */

/** Longest request path or pattern we accept; anything longer is refused rather than scanned. */
export const MAX_PATH_LENGTH = 1024;

/** Characters a templated value may contain. Anything else (`/`, `*`, `..`-tricks, spaces) makes the rule inert. */
const TEMPLATE_VALUE = /^[A-Za-z0-9_.@=+-]+$/;
const TEMPLATE = /\{\{([^{}]*)\}\}/g;
const METADATA_KEY = /^[A-Za-z0-9_.-]{1,128}$/;
/** Only tested once a path holds non-ASCII: invisible, formatting and whitespace code points, lone surrogates. */
const SUSPICIOUS_UNICODE = /[\p{Cc}\p{Cf}\p{Z}\p{Cs}]/u;

export type TemplateVariable =
  | { readonly kind: 'id' }
  | { readonly kind: 'name' }
  | { readonly kind: 'metadata'; readonly key: string };

/** Literal text, or a template filled in from the principal. */
export type PatternPiece = string | TemplateVariable;

export type PatternSegment = { readonly kind: 'any' } | { readonly kind: 'literal'; readonly pieces: PatternPiece[] };

/** A pattern as written, with templates still unresolved. */
export interface ParsedPattern {
  readonly source: string;
  /** With `glob`, the last segment is a prefix (possibly empty, for `.../*`). */
  readonly segments: readonly PatternSegment[];
  readonly glob: boolean;
  readonly templated: boolean;
}

/** A pattern with its templates filled in, ready to match. */
export interface ResolvedPattern {
  /** The pattern text after templating, for reasons and tie-breaks. */
  readonly text: string;
  /** Distinguishes a `+` wildcard from a literal `+` that came from a template; equal keys mean equal patterns. */
  readonly key: string;
  readonly glob: boolean;
  /** `text` without the trailing `*`: the whole match for patterns without `+`. */
  readonly prefix: string;
  /** Per-segment literals (`null` = `+`), only for patterns with `+`; others match by plain string comparison. */
  readonly parts: readonly (string | null)[] | undefined;
  /** Index in `text` of the first `+` or `*`; `Infinity` when there is none. */
  readonly firstWildcard: number;
  readonly wildcardSegments: number;
}

/** Thrown by `parsePattern`; the message says what is wrong in words a policy author understands. */
export class PatternSyntaxError extends Error {
  override readonly name = 'PatternSyntaxError';
}

/**
 * Why `path` is not a canonical request path, or `undefined` if it is. Non-canonical paths are denied outright, so
 * that no encoding, normalisation or look-alike trick can make one path match another's rules, whatever the HTTP
 * layer did before us.
 */
export function nonCanonicalReason(path: string): string | undefined {
  if (path.length === 0) return 'path is empty';
  if (path.length > MAX_PATH_LENGTH) return `path is longer than ${MAX_PATH_LENGTH} characters`;
  // One pass over the characters rather than a regex: this runs on every request.
  let segmentStart = 0;
  let nonAscii = false;
  for (let i = 0; i <= path.length; i++) {
    const code = i === path.length ? 0x2f : path.charCodeAt(i);
    if (code === 0x2f) {
      const length = i - segmentStart;
      if (length === 0) {
        if (i === 0) return "path starts with '/'";
        if (i === path.length) return "path ends with '/'";
        return "path has an empty segment ('//')";
      }
      if (length <= 2 && path.charCodeAt(segmentStart) === 0x2e && (length === 1 || path.charCodeAt(i - 1) === 0x2e)) {
        return "path has a '.' or '..' segment";
      }
      segmentStart = i + 1;
    } else if (code <= 0x20 || code === 0x7f) {
      return 'path contains whitespace or a control character';
    } else if (code === 0x25) {
      return "path contains '%' (percent-encoding is not allowed)";
    } else if (code === 0x5c) {
      return "path contains '\\'";
    } else if (code > 0x7e) {
      nonAscii = true;
    }
  }
  if (nonAscii && SUSPICIOUS_UNICODE.test(path)) {
    return 'path contains an invisible, whitespace or malformed Unicode character';
  }
  return undefined;
}

/** A request path, split into segments only if a `+` pattern needs them. */
export class RequestPath {
  private split: readonly string[] | undefined;

  constructor(readonly text: string) {}

  get segments(): readonly string[] {
    this.split ??= this.text.split('/');
    return this.split;
  }
}

/**
 * Parses and checks a pattern.
 * @throws PatternSyntaxError naming the problem.
 * @example parsePattern('secrets/{{principal.id}}/*')
 */
export function parsePattern(source: string): ParsedPattern {
  if (source.length === 0) throw new PatternSyntaxError('pattern is empty');
  if (source.length > MAX_PATH_LENGTH) {
    throw new PatternSyntaxError(`pattern is longer than ${MAX_PATH_LENGTH} characters`);
  }
  const star = source.indexOf('*');
  if (star !== -1 && star !== source.length - 1) {
    throw new PatternSyntaxError("'*' may only appear at the end of a pattern");
  }
  const glob = star !== -1;
  const body = glob ? source.slice(0, -1) : source;
  const characterProblem = forbiddenCharacter(body);
  if (characterProblem !== undefined) throw new PatternSyntaxError(characterProblem);
  const raw = body.split('/');
  let templated = false;
  const segments = raw.map((segment, index): PatternSegment => {
    const isPrefix = glob && index === raw.length - 1;
    if (segment === '' && !isPrefix) {
      if (index === 0) throw new PatternSyntaxError("pattern must not start with '/'");
      if (index === raw.length - 1) throw new PatternSyntaxError("pattern must not end with '/' (use '/*')");
      throw new PatternSyntaxError("pattern has an empty segment ('//')");
    }
    if (segment === '.' || segment === '..') throw new PatternSyntaxError("pattern has a '.' or '..' segment");
    if (segment === '+') {
      if (isPrefix) throw new PatternSyntaxError("'+*' is ambiguous: write '+/*' or a literal prefix");
      return { kind: 'any' };
    }
    const pieces = parseTemplates(segment);
    if (pieces.some((piece) => typeof piece !== 'string')) templated = true;
    return { kind: 'literal', pieces };
  });
  return { source, segments, glob, templated };
}

/** The problem with a pattern, or `undefined` if it is valid. */
export function patternProblem(source: string): string | undefined {
  try {
    parsePattern(source);
    return undefined;
  } catch (err) {
    if (err instanceof PatternSyntaxError) return err.message;
    throw err;
  }
}

/**
 * Fills in a pattern's templates from the caller. Returns `undefined` (the rule matches nothing) when a value is
 * missing or holds characters outside `[A-Za-z0-9_.@=+-]`, or would form a `.`/`..` segment: a hostile identity must
 * never widen a grant.
 */
export function resolvePattern(pattern: ParsedPattern, principal: Principal | undefined): ResolvedPattern | undefined {
  const literals: string[] = [];
  for (const segment of pattern.segments) {
    if (segment.kind === 'any') {
      literals.push('');
      continue;
    }
    let text = '';
    for (const piece of segment.pieces) {
      if (typeof piece === 'string') {
        text += piece;
        continue;
      }
      const value = principal === undefined ? undefined : templateValue(piece, principal);
      if (value === undefined || !TEMPLATE_VALUE.test(value)) return undefined;
      text += value;
    }
    if (pattern.templated && (text === '.' || text === '..')) return undefined;
    literals.push(text);
  }
  return buildResolved(pattern, literals);
}

/** True if the canonical request path matches. */
export function matchesPath(pattern: ResolvedPattern, path: RequestPath): boolean {
  if (pattern.parts === undefined) {
    return pattern.glob ? path.text.startsWith(pattern.prefix) : path.text === pattern.prefix;
  }
  const parts = pattern.parts;
  const segments = path.segments;
  if (pattern.glob ? segments.length < parts.length : segments.length !== parts.length) return false;
  const last = parts.length - 1;
  for (let i = 0; i <= last; i++) {
    const part = parts[i] as string | null;
    if (part === null) continue; // canonical paths have no empty segments, so any segment will do
    const segment = segments[i]!;
    if (pattern.glob && i === last ? !segment.startsWith(part) : segment !== part) return false;
  }
  return true;
}

/**
 * Orders patterns by Vault's priority rules; positive when `a` is more specific than `b`. In order: the later first
 * wildcard wins, then no trailing `*` beats a trailing `*`, then fewer `+` segments, then the longer pattern, then the
 * lexicographically larger one (a deterministic tie-break). Zero only for equal patterns.
 */
export function compareSpecificity(a: ResolvedPattern, b: ResolvedPattern): number {
  if (a.firstWildcard !== b.firstWildcard) return a.firstWildcard > b.firstWildcard ? 1 : -1;
  if (a.glob !== b.glob) return a.glob ? -1 : 1;
  if (a.wildcardSegments !== b.wildcardSegments) return b.wildcardSegments - a.wildcardSegments;
  if (a.text.length !== b.text.length) return a.text.length - b.text.length;
  if (a.text !== b.text) return a.text > b.text ? 1 : -1;
  if (a.key !== b.key) return a.key > b.key ? 1 : -1;
  return 0;
}

function buildResolved(pattern: ParsedPattern, literals: readonly string[]): ResolvedPattern {
  let text = '';
  let key = '';
  let firstWildcard = Number.POSITIVE_INFINITY;
  let wildcardSegments = 0;
  pattern.segments.forEach((segment, index) => {
    if (index > 0) {
      text += '/';
      key += '/';
    }
    if (segment.kind === 'any') {
      if (firstWildcard === Number.POSITIVE_INFINITY) firstWildcard = text.length;
      wildcardSegments++;
      text += '+';
      key += '+';
    } else {
      const literal = literals[index]!;
      text += literal;
      // A literal segment can never hold '\', so this escape cannot collide with anything a pattern spells.
      key += literal === '+' ? '\\+' : literal;
    }
  });
  const prefix = text;
  if (pattern.glob) {
    if (firstWildcard === Number.POSITIVE_INFINITY) firstWildcard = text.length;
    text += '*';
    key += '*';
  }
  const parts =
    wildcardSegments === 0 ? undefined : pattern.segments.map((s, i) => (s.kind === 'any' ? null : literals[i]!));
  return { text, key, glob: pattern.glob, prefix, parts, firstWildcard, wildcardSegments };
}

/** Resolves a pattern that has no templates, once, at compile time. */
export function resolveStatic(pattern: ParsedPattern): ResolvedPattern {
  if (pattern.templated) throw new TypeError('pattern has templates; use resolvePattern');
  return resolvePattern(pattern, undefined)!;
}

function templateValue(variable: TemplateVariable, principal: Principal): string | undefined {
  switch (variable.kind) {
    case 'id':
      return principal.id;
    case 'name':
      return principal.displayName;
    case 'metadata':
      // Own properties only: `constructor` or `__proto__` must not resolve to something inherited.
      return Object.hasOwn(principal.metadata, variable.key) ? principal.metadata[variable.key] : undefined;
  }
}

function parseTemplates(segment: string): PatternPiece[] {
  const pieces: PatternPiece[] = [];
  let last = 0;
  for (const match of segment.matchAll(TEMPLATE)) {
    if (match.index > last) pieces.push(segment.slice(last, match.index));
    pieces.push(parseVariable(match[1]!));
    last = match.index + match[0].length;
  }
  if (last < segment.length) pieces.push(segment.slice(last));
  for (const piece of pieces) {
    if (typeof piece === 'string' && (piece.includes('{{') || piece.includes('}}'))) {
      throw new PatternSyntaxError(`malformed template in segment "${segment}"`);
    }
  }
  return pieces;
}

function parseVariable(name: string): TemplateVariable {
  if (name === 'principal.id') return { kind: 'id' };
  if (name === 'principal.name') return { kind: 'name' };
  const key = name.startsWith('principal.metadata.') ? name.slice('principal.metadata.'.length) : undefined;
  if (key !== undefined && METADATA_KEY.test(key)) return { kind: 'metadata', key };
  throw new PatternSyntaxError(
    `unknown template {{${name}}}; use {{principal.id}}, {{principal.name}} or {{principal.metadata.KEY}}`,
  );
}

function forbiddenCharacter(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f) return 'pattern contains whitespace or a control character';
    if (code === 0x25) return "pattern contains '%'";
    if (code === 0x5c) return "pattern contains '\\'";
  }
  if (SUSPICIOUS_UNICODE.test(text)) return 'pattern contains an invisible, whitespace or malformed Unicode character';
  return undefined;
}
