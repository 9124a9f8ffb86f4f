import { createReadStream } from 'node:fs';
import http from 'node:http';
import { createInterface } from 'node:readline';

export interface Answer {
  readonly status: number;
  /** Header names and values as received, joined, to look for canaries in. */
  readonly rawHeaders: string;
  readonly body: Buffer;
}

export type Outcome = { answer: Answer; retried?: boolean } | { error: string };

type Request = { method: string; path: string; headers: Record<string, string>; body: Buffer | undefined };

/**
 * Sends one request exactly as given over a keep-alive pool; a transport failure is an outcome, not a throw. A reset
 * on a reused socket is sent once more on a new one: the server closing an idle keep-alive socket just as the pool
 * reuses it is a race of every HTTP/1.1 client, not a fault of the request.
 */
export async function send(agent: http.Agent, url: URL, request: Request, timeoutMs = 30_000): Promise<Outcome> {
  const first = await attempt(agent, url, request, timeoutMs);
  if (!('reusedSocketReset' in first)) return first;
  const second = await attempt(agent, url, request, timeoutMs);
  if ('reusedSocketReset' in second) return { error: 'ECONNRESET' };
  return 'answer' in second ? { ...second, retried: true } : second;
}

function attempt(
  agent: http.Agent,
  url: URL,
  request: Request,
  timeoutMs: number,
): Promise<Outcome | { reusedSocketReset: true }> {
  return new Promise((resolve) => {
    let req: http.ClientRequest;
    try {
      req = http.request({
        host: url.hostname,
        port: url.port,
        method: request.method,
        path: request.path,
        headers: request.headers,
        agent,
        setHost: request.headers.host === undefined,
        timeout: timeoutMs,
      });
    } catch (err) {
      // node:http refused to put it on the wire (a character it will not send): nothing reached the server.
      resolve({ error: `unsendable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).name}` });
      return;
    }
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          answer: { status: res.statusCode ?? 0, rawHeaders: res.rawHeaders.join('\n'), body: Buffer.concat(chunks) },
        }),
      );
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: `response: ${err.code ?? err.message}` }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (req.reusedSocket && err.code === 'ECONNRESET') resolve({ reusedSocketReset: true });
      else resolve({ error: err.code ?? err.message });
    });
    if (request.body !== undefined && request.method !== 'GET' && request.method !== 'HEAD') req.end(request.body);
    else req.end();
  });
}

/** The name of the first canary found in `haystack`, never the canary itself. */
export function findCanary(haystack: Buffer | string, canaries: Readonly<Record<string, string>>): string | undefined {
  for (const [name, value] of Object.entries(canaries)) {
    if (haystack.indexOf(value) !== -1) return name;
  }
  return undefined;
}

/**
 * Scans a file of JSON lines of any size for canaries, line by line. Returns the canary's name and the line with every
 * canary replaced by `<canary>`, so the report shows where it was without repeating it.
 */
export async function fileHasCanary(
  file: string,
  canaries: Readonly<Record<string, string>>,
): Promise<{ name: string; line: string } | undefined> {
  const lines = createInterface({
    input: createReadStream(file, { encoding: 'utf8' }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  for await (const line of lines) {
    const name = findCanary(line, canaries);
    if (name === undefined) continue;
    lines.close();
    let shown = line;
    for (const value of Object.values(canaries)) shown = shown.split(value).join('<canary>');
    return { name, line: shown.slice(0, 1500) };
  }
  return undefined;
}
