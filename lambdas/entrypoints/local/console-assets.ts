import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONSOLE_CSP, CONSOLE_SECURITY_HEADERS } from '../../core/auth/console-headers.ts';

/**
 * The web console's files (`npm run build` writes them to `dist/console/`), served by the local server under `/ui/`.
 * They are read once at start: the console is a few hundred kilobytes, and a fixed table of names leaves no path for
 * a request to traverse.
 */

/** Where the console is served. */
export const CONSOLE_PREFIX = '/ui/';

/** What every console answer carries: the CSP (the API on the same origin) and the other security headers. */
const HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  ...CONSOLE_SECURITY_HEADERS,
};

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

/** Hashed names never change content, so browsers keep them; the page that names them is never cached. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
const NO_STORE = 'no-store';

export interface ConsoleAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | string;
}

interface ConsoleFile {
  readonly bytes: Buffer;
  readonly type: string;
  readonly cache: string;
}

export class ConsoleAssets {
  private constructor(private readonly files: ReadonlyMap<string, ConsoleFile>) {}

  /**
   * The console built into `dir` (`index.html`, `config.json`, `assets/*`).
   * @param signing the region this node serves: then `config.json` names it and the signing name `coffer`, so the
   *   console's SigV4 sign-in (a Coffer access key) is scoped as this node verifies it
   * @throws Error when `dir` has no `index.html`
   */
  static load(dir: string, signing?: { readonly region: string }): ConsoleAssets {
    const files = new Map<string, ConsoleFile>();
    const add = (relative: string, cache: string) => {
      const type = CONTENT_TYPES[path.extname(relative)];
      if (type === undefined) return;
      files.set(relative, { bytes: readFileSync(path.join(dir, relative)), type, cache });
    };
    if (!existsSync(path.join(dir, 'index.html'))) throw new Error(`no console in ${dir}: run npm run build`);
    add('index.html', NO_STORE);
    if (signing !== undefined) {
      const config = `${JSON.stringify({ region: signing.region, signingService: 'coffer' })}\n`;
      files.set('config.json', { bytes: Buffer.from(config), type: 'application/json', cache: NO_STORE });
    } else if (existsSync(path.join(dir, 'config.json'))) {
      add('config.json', NO_STORE);
    }
    const assets = path.join(dir, 'assets');
    if (existsSync(assets)) for (const name of readdirSync(assets)) add(`assets/${name}`, IMMUTABLE);
    return new ConsoleAssets(files);
  }

  /** Whether a request path is the console's (`/ui` or under `/ui/`). */
  static owns(rawPath: string): boolean {
    return rawPath === '/ui' || rawPath.startsWith(CONSOLE_PREFIX);
  }

  /** The answer to `method rawPath` (a path {@link owns} accepted). */
  answer(method: string, rawPath: string): ConsoleAnswer {
    if (method !== 'GET' && method !== 'HEAD') {
      return this.plain(405, 'method not allowed', { allow: 'GET, HEAD' });
    }
    if (rawPath === '/ui') return this.plain(308, 'moved', { location: CONSOLE_PREFIX });
    const relative = rawPath.slice(CONSOLE_PREFIX.length);
    const file = this.files.get(relative === '' ? 'index.html' : relative);
    if (file === undefined) return this.plain(404, 'not found');
    return {
      status: 200,
      headers: {
        ...HEADERS,
        'content-type': file.type,
        'content-length': String(file.bytes.length),
        'cache-control': file.cache,
      },
      body: method === 'HEAD' ? '' : file.bytes,
    };
  }

  private plain(status: number, text: string, extra: Record<string, string> = {}): ConsoleAnswer {
    return {
      status,
      headers: {
        ...HEADERS,
        'content-type': 'text/plain; charset=utf-8',
        'cache-control': NO_STORE,
        ...extra,
      },
      body: text,
    };
  }
}

/**
 * The built console beside the compiled server (`dist/console/`), or `undefined` when there is none (the server run
 * from its TypeScript sources, or a build without it): the API is served either way.
 */
export function builtConsoleDir(moduleUrl: string = import.meta.url): string | undefined {
  let dir = path.dirname(fileURLToPath(moduleUrl));
  // The server's code may sit in a chunk beside the entries (dist/) or, from sources, deep under lambdas/.
  for (let depth = 0; depth < 5; depth++) {
    const candidate = path.join(dir, 'console');
    if (existsSync(path.join(candidate, 'index.html'))) return candidate;
    const distCandidate = path.join(dir, 'dist', 'console');
    if (existsSync(path.join(distCandidate, 'index.html'))) return distCandidate;
    dir = path.dirname(dir);
  }
  return undefined;
}
