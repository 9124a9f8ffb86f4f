import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The operations of the service, as fault toggles name them. */
export type ApiKeyServiceOp = 'create' | 'test' | 'revoke';

/** What the next call of an operation does instead of its work: answer with a status, or never answer. */
export type ApiKeyServiceFault = { readonly status: number } | 'hang';

export interface ApiKeyServiceOptions {
  /** The admin credential that issues and revokes keys. @default random */
  readonly adminToken?: string;
  /** Also accept the admin credential verbatim in this header (as well as `Authorization: Bearer`). */
  readonly adminHeader?: string;
  /** Prefix of issued key ids; may hold characters that need URL-encoding. @default 'key-' */
  readonly idPrefix?: string;
  /** Answer creates as `{ data: { id, key } }` instead of `{ id, key }`. @default false */
  readonly nested?: boolean;
}

export interface ApiKeyServiceRequest {
  readonly op: ApiKeyServiceOp | 'unknown';
  readonly method: string;
  /** The raw request path, still URL-encoded. */
  readonly path: string;
  readonly status: number;
}

/**
 * A real API-key service on 127.0.0.1, for rotation tests:
 * - `POST /keys` (admin) issues `{ id, key }` (201);
 * - `GET /check` with `x-api-key: <key>` answers 200 for a live key, 401 otherwise;
 * - `DELETE /keys/<id>` (admin) revokes (204; 404 for an id it never issued).
 *
 * Faults: `failNext(op, status)` answers the next call of `op` with that status; `hangNext(op)` never answers it;
 * `down = true` drops every connection without a response.
 *
 * @example
 * const service = await startApiKeyService();
 * const { id, key } = service.issue();
 * service.failNext('create', 500);
 * await service.close();
 */
export interface ApiKeyService {
  readonly url: string;
  readonly adminToken: string;
  /** Every request answered (or failed), in order. */
  readonly requests: ApiKeyServiceRequest[];
  /** When true, connections are dropped without a response. */
  down: boolean;
  failNext(op: ApiKeyServiceOp, status: number): void;
  hangNext(op: ApiKeyServiceOp): void;
  /** Issues a key directly (as if an admin had), e.g. the secret's key before its first rotation. */
  issue(): { id: string; key: string };
  isValid(key: string): boolean;
  /** Key ids, live and revoked. */
  keys(): { id: string; revoked: boolean }[];
  close(): Promise<void>;
}

interface KeyEntry {
  readonly id: string;
  readonly hash: Buffer;
  revoked: boolean;
}

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest();

export async function startApiKeyService(options: ApiKeyServiceOptions = {}): Promise<ApiKeyService> {
  const adminToken = options.adminToken ?? `adm_${randomBytes(24).toString('base64url')}`;
  const adminHash = sha256(adminToken);
  const idPrefix = options.idPrefix ?? 'key-';
  const entries = new Map<string, KeyEntry>();
  const faults = new Map<ApiKeyServiceOp, ApiKeyServiceFault>();
  const requests: ApiKeyServiceRequest[] = [];
  let counter = 0;

  const issue = () => {
    counter += 1;
    const id = `${idPrefix}${counter}`;
    const key = `tk_${randomBytes(32).toString('base64url')}`;
    entries.set(id, { id, hash: sha256(key), revoked: false });
    return { id, key };
  };
  const isValid = (key: string) => {
    const hash = sha256(key);
    let valid = false;
    // Every entry is compared, in constant time, so the answer's timing says nothing about which key matched.
    for (const entry of entries.values()) if (timingSafeEqual(entry.hash, hash) && !entry.revoked) valid = true;
    return valid;
  };
  const isAdmin = (req: IncomingMessage) => {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const header = options.adminHeader === undefined ? undefined : req.headers[options.adminHeader.toLowerCase()];
    const presented = bearer ?? (typeof header === 'string' ? header : undefined);
    return presented !== undefined && timingSafeEqual(sha256(presented), adminHash);
  };

  const server = createServer((req, res) => {
    const rawPath = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    const op: ApiKeyServiceOp | 'unknown' =
      method === 'POST' && rawPath === '/keys'
        ? 'create'
        : method === 'GET' && rawPath === '/check'
          ? 'test'
          : method === 'DELETE' && rawPath.startsWith('/keys/')
            ? 'revoke'
            : 'unknown';
    const answer = (status: number, body?: unknown) => {
      requests.push({ op, method, path: rawPath, status });
      send(res, status, body);
    };
    if (service.down) {
      requests.push({ op, method, path: rawPath, status: 0 });
      req.socket.destroy();
      return;
    }
    // Drain the body (creates may send one) before answering.
    req.resume();
    req.on('end', () => {
      const fault = op === 'unknown' ? undefined : faults.get(op);
      if (fault !== undefined && op !== 'unknown') {
        faults.delete(op);
        if (fault === 'hang') {
          requests.push({ op, method, path: rawPath, status: 0 });
          return;
        }
        answer(fault.status, { error: 'injected fault' });
        return;
      }
      switch (op) {
        case 'create': {
          if (!isAdmin(req)) return answer(401, { error: 'admin credential required' });
          const { id, key } = issue();
          return answer(201, options.nested === true ? { data: { id, key } } : { id, key });
        }
        case 'test': {
          const presented = req.headers['x-api-key'];
          if (typeof presented !== 'string' || !isValid(presented)) return answer(401, { error: 'invalid key' });
          return answer(200, { ok: true });
        }
        case 'revoke': {
          if (!isAdmin(req)) return answer(401, { error: 'admin credential required' });
          const entry = entries.get(decodeURIComponent(rawPath.slice('/keys/'.length)));
          if (entry === undefined) return answer(404, { error: 'no such key' });
          entry.revoked = true;
          return answer(204);
        }
        default:
          return answer(404, { error: 'no such endpoint' });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const service: ApiKeyService = {
    url: `http://127.0.0.1:${port}`,
    adminToken,
    requests,
    down: false,
    failNext: (op, status) => faults.set(op, { status }),
    hangNext: (op) => faults.set(op, 'hang'),
    issue,
    isValid,
    keys: () => [...entries.values()].map((entry) => ({ id: entry.id, revoked: entry.revoked })),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
  return service;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (body === undefined || status === 204) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}
