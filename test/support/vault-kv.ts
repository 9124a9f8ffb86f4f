import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for HashiCorp Vault / OpenBao's KV version 2 engine, speaking its HTTP API as documented
 * (the KV v2 API reference) for what `coffer import vault:` reads: `LIST
 * /v1/<mount>/metadata/<path>` (folders end in '/', 404 when there is nothing), `GET /v1/<mount>/metadata/<path>`
 * (versions with created/deletion time and destroyed, custom_metadata) and `GET /v1/<mount>/data/<path>?version=N`
 * (404 with `data: null` for a deleted or destroyed version). No Vault binary can be installed here, so the tests run
 * against this; writes happen through its methods, not the API.
 */
export interface VaultKv {
  readonly address: string;
  readonly token: string;
  put(path: string, data: Record<string, unknown>, customMetadata?: Record<string, string>): void;
  deleteVersion(path: string, version: number): void;
  destroyVersion(path: string, version: number): void;
  /** Requests seen, as `METHOD path`. */
  readonly requests: string[];
  close(): Promise<void>;
}

interface Version {
  data: Record<string, unknown>;
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

export async function startVaultKv(mount = 'secret', token = 'hvs.test-token'): Promise<VaultKv> {
  const secrets = new Map<string, { versions: Version[]; custom_metadata: Record<string, string> | null }>();
  const requests: string[] = [];
  let tick = Date.UTC(2026, 0, 1);
  const stamp = () => {
    tick += 1000;
    return new Date(tick).toISOString();
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://vault');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (req.headers['x-vault-token'] !== token) return send(res, 403, { errors: ['permission denied'] });
    const prefix = `/v1/${mount}/`;
    if (!url.pathname.startsWith(prefix)) return send(res, 404, { errors: [] });
    const rest = decodeURIComponent(url.pathname.slice(prefix.length));
    const isList = req.method === 'LIST' || (req.method === 'GET' && url.searchParams.get('list') === 'true');
    if (rest.startsWith('metadata/') || rest === 'metadata') {
      const path = rest.slice('metadata/'.length);
      if (isList) {
        const folder = path === '' || path.endsWith('/') ? path : `${path}/`;
        const keys = new Set<string>();
        for (const name of secrets.keys()) {
          if (!name.startsWith(folder)) continue;
          const below = name.slice(folder.length);
          const slash = below.indexOf('/');
          keys.add(slash === -1 ? below : below.slice(0, slash + 1));
        }
        if (keys.size === 0) return send(res, 404, { errors: [] });
        return send(res, 200, { data: { keys: [...keys].sort() } });
      }
      const secret = secrets.get(path);
      if (secret === undefined || req.method !== 'GET') return send(res, 404, { errors: [] });
      const versions = Object.fromEntries(
        secret.versions.map((v, i) => [
          String(i + 1),
          { created_time: v.created_time, deletion_time: v.deletion_time, destroyed: v.destroyed },
        ]),
      );
      return send(res, 200, {
        data: {
          current_version: secret.versions.length,
          oldest_version: 1,
          max_versions: 0,
          custom_metadata: secret.custom_metadata,
          versions,
        },
      });
    }
    if (rest.startsWith('data/') && req.method === 'GET') {
      const secret = secrets.get(rest.slice('data/'.length));
      if (secret === undefined) return send(res, 404, { errors: [] });
      const n = Number(url.searchParams.get('version') ?? secret.versions.length);
      const v = secret.versions[n - 1];
      if (v === undefined) return send(res, 404, { errors: [] });
      const metadata = {
        created_time: v.created_time,
        deletion_time: v.deletion_time,
        destroyed: v.destroyed,
        version: n,
        custom_metadata: secret.custom_metadata,
      };
      if (v.destroyed || v.deletion_time !== '') return send(res, 404, { data: { data: null, metadata } });
      return send(res, 200, { data: { data: v.data, metadata } });
    }
    return send(res, 405, { errors: ['unsupported'] });
  };

  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const version = (path: string, n: number) => {
    const v = secrets.get(path)?.versions[n - 1];
    if (v === undefined) throw new Error(`no version ${n} of ${path}`);
    return v;
  };
  return {
    address: `http://127.0.0.1:${port}`,
    token,
    requests,
    put(path, data, customMetadata) {
      const secret = secrets.get(path) ?? { versions: [], custom_metadata: null };
      secret.versions.push({ data, created_time: stamp(), deletion_time: '', destroyed: false });
      if (customMetadata !== undefined) secret.custom_metadata = customMetadata;
      secrets.set(path, secret);
    },
    deleteVersion(path, n) {
      version(path, n).deletion_time = stamp();
    },
    destroyVersion(path, n) {
      const v = version(path, n);
      v.destroyed = true;
      v.data = {};
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
