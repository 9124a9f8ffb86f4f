import type { HttpMethod, RouteDef } from './route.ts';

type Segment = { kind: 'literal'; value: string } | { kind: 'param'; name: string; rest: boolean };

interface CompiledRoute {
  readonly route: RouteDef;
  readonly segments: readonly Segment[];
}

export type RouteMatch =
  | {
      kind: 'found';
      route: RouteDef;
      params: Record<string, string>;
      /** The first parameter whose raw text is not valid percent-encoded UTF-8 (kept raw in `params`). */
      malformed?: string;
    }
  | { kind: 'method' }
  | { kind: 'none' }
  /** `POST` to a path served by `X-Amz-Target` dispatch, with a missing or unknown target. */
  | { kind: 'target'; target: string | undefined };

/**
 * Matches raw (still percent-encoded) paths against route templates. Literal segments must match byte for byte, so
 * an encoded variant of a literal (`%64ata`) matches nothing; parameters are decoded exactly once.
 */
export class RouteTable {
  private readonly compiled: CompiledRoute[];
  /** `<path> <X-Amz-Target>` -> route, for the AWS JSON 1.1 operations, each path serving its set by `POST`. */
  private readonly targets = new Map<string, RouteDef>();
  private readonly targetPaths = new Set<string>();

  constructor(routes: readonly RouteDef[]) {
    const pathRoutes: RouteDef[] = [];
    for (const route of routes) {
      if (route.target === undefined) {
        pathRoutes.push(route);
        continue;
      }
      if (route.method !== 'POST') throw new Error(`target route ${route.target} must be POST`);
      const key = `${route.path} ${route.target}`;
      if (this.targets.has(key)) throw new Error(`duplicate target ${route.target} on ${route.path}`);
      this.targets.set(key, route);
      this.targetPaths.add(route.path);
    }
    this.compiled = pathRoutes.map((route) => ({ route, segments: compile(route.path) }));
    const seen = new Set<string>();
    for (const { route } of this.compiled) {
      const key = `${route.method} ${route.path}`;
      if (this.targetPaths.has(route.path)) throw new Error(`route ${key} collides with X-Amz-Target dispatch`);
      if (seen.has(key)) throw new Error(`duplicate route ${key}`);
      seen.add(key);
    }
  }

  /** @param target the request's `X-Amz-Target` header, consulted only on paths served by target dispatch */
  match(method: string, rawPath: string, target?: string): RouteMatch {
    if (this.targetPaths.has(rawPath)) {
      if (method.toUpperCase() !== 'POST') return { kind: 'method' };
      const route = target === undefined ? undefined : this.targets.get(`${rawPath} ${target}`);
      if (route === undefined) return { kind: 'target', target };
      return { kind: 'found', route, params: {} };
    }
    const parts = rawPath.split('/').slice(1);
    let methodMismatch = false;
    for (const candidate of this.compiled) {
      const matched = matchSegments(candidate.segments, parts);
      if (matched === undefined) continue;
      if (candidate.route.method !== (method.toUpperCase() as HttpMethod)) {
        methodMismatch = true;
        continue;
      }
      const { params, malformed } = matched;
      return malformed === undefined
        ? { kind: 'found', route: candidate.route, params }
        : { kind: 'found', route: candidate.route, params, malformed };
    }
    return methodMismatch ? { kind: 'method' } : { kind: 'none' };
  }
}

function compile(path: string): Segment[] {
  return path
    .split('/')
    .slice(1)
    .map((part) => {
      const param = /^\{([a-zA-Z]+)(\+?)\}$/.exec(part);
      if (param === null) return { kind: 'literal', value: part };
      return { kind: 'param', name: param[1]!, rest: param[2] === '+' };
    });
}

function matchSegments(
  segments: readonly Segment[],
  parts: readonly string[],
): { params: Record<string, string>; malformed: string | undefined } | undefined {
  const params: Record<string, string> = {};
  let malformed: string | undefined;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment.kind === 'literal') {
      if (parts[i] !== segment.value) return undefined;
      continue;
    }
    const raw = segment.rest ? parts.slice(i).join('/') : parts[i];
    if (raw === undefined || raw.length === 0) return undefined;
    const decoded = decode(raw);
    // Undecodable input (a broken escape, bytes that are not UTF-8, an encoded surrogate) still matches, so the
    // broker refuses it with a clear 400 rather than a 404; it is kept raw and named, never silently repaired.
    params[segment.name] = decoded ?? raw;
    if (decoded === undefined) malformed ??= segment.name;
    if (segment.rest) return { params, malformed };
  }
  return parts.length === segments.length ? { params, malformed } : undefined;
}

function decode(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}
