import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ZodError } from 'zod';
import { reviewAdmission } from './admission-review.ts';
import type { InjectorSettings } from './agent-pod.ts';

export interface InjectorServerOptions {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** The serving certificate chain and key (PEM files): re-read when either changes (cert-manager renews them). */
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  readonly settings: InjectorSettings;
  readonly log: (message: string) => void;
}

export interface RunningInjector {
  readonly port: number;
  /** Re-reads the certificate and key; a pair that does not load keeps the old one (and is logged). */
  reloadTls(): Promise<void>;
  close(): Promise<void>;
}

/**
 * An AdmissionReview is one pod: the API server caps a request at 3 MiB, so more than that is not from it.
 * Vault's injector reads the body without a limit; a limit keeps a caller on the network from exhausting memory.
 */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

/**
 * The mutating webhook's HTTPS server: `POST /mutate` answers an AdmissionReview, `GET /healthz` says it serves.
 * A malformed review is a 400 and an unexpected failure a bare 500: the API server then applies the webhook's
 * `failurePolicy` (the manifests choose it) instead of the injector deciding that a pod may start without its secrets.
 */
export async function startInjectorServer(options: InjectorServerOptions): Promise<RunningInjector> {
  const loadTls = async () => ({
    cert: await readFile(options.tlsCertFile),
    key: await readFile(options.tlsKeyFile),
  });
  const server: Server = createServer({ ...(await loadTls()), minVersion: 'TLSv1.2' }, (req, res) => {
    const send = (status: number, body: unknown) => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' });
      res.end(text);
    };
    const url = new URL(req.url ?? '/', 'https://injector');
    if (url.pathname === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
      return send(200, 'ok\n');
    }
    if (url.pathname !== '/mutate') return send(404, 'not found\n');
    if (req.method !== 'POST') return send(405, 'method not allowed\n');
    if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) {
      return send(415, 'an AdmissionReview is application/json\n');
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        tooLarge = true;
        chunks.length = 0;
        // The answer closes the connection: the rest of the body is dropped with it, never buffered.
        res.setHeader('connection', 'close');
        send(413, `an AdmissionReview is at most ${MAX_BODY_BYTES} bytes\n`);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) return;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(400, 'the body is not JSON\n');
      }
      try {
        const review = reviewAdmission(body, options.settings);
        options.log(
          `${review.response.allowed ? (review.response.patch === undefined ? 'passed' : 'injected') : 'refused'} ` +
            `review ${review.response.uid}${review.response.status?.message === undefined ? '' : `: ${review.response.status.message}`}`,
        );
        send(200, review);
      } catch (err) {
        if (err instanceof ZodError) {
          const issue = err.issues[0];
          return send(
            400,
            `not an AdmissionReview (admission.k8s.io/v1): ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}\n`,
          );
        }
        options.log(`internal error: ${err instanceof Error ? err.name : 'unknown'}`);
        send(500, 'internal error\n');
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const reloadTls = async () => {
    try {
      server.setSecureContext({ ...(await loadTls()), minVersion: 'TLSv1.2' });
      options.log('reloaded the TLS certificate');
    } catch (err) {
      options.log(
        `kept the TLS certificate: the new one does not load (${err instanceof Error ? err.message : 'error'})`,
      );
    }
  };
  // cert-manager and kubelet secret mounts replace files by renaming a directory: watch the directories, not the files.
  let pending: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [...new Set([options.tlsCertFile, options.tlsKeyFile].map((f) => path.dirname(f)))].map(
    (dir) =>
      watch(dir, () => {
        // A renewal writes the certificate and the key one after the other: load once both are there.
        clearTimeout(pending);
        pending = setTimeout(() => void reloadTls(), 200);
      }),
  );
  return {
    port: (server.address() as AddressInfo).port,
    reloadTls,
    close: () =>
      new Promise<void>((resolve) => {
        clearTimeout(pending);
        for (const watcher of watchers) watcher.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
