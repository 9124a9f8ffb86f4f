import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Broker } from '../../broker/broker.ts';
import { errorBody } from '../../broker/http-errors.ts';
import type { BrokerRequest } from '../../broker/http-types.ts';

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  /** @default 1_048_576 */
  readonly maxBodyBytes?: number;
  /** A request that has not completed in this time is answered 408 by Node. @default 30_000 */
  readonly requestTimeoutMs?: number;
}

/**
 * Serves the broker over node:http. It only translates: body limits are enforced while streaming (an oversized
 * upload is cut off at the limit, not buffered), everything else is the broker's job.
 */
export class LocalHttpServer {
  private readonly server: Server;
  private inFlight = 0;
  private idle: (() => void) | undefined;

  constructor(
    private readonly broker: Pick<Broker, 'handle'>,
    private readonly options: HttpServerOptions,
  ) {
    const requestTimeout = options.requestTimeoutMs ?? 30_000;
    // Node only looks for expired requests every `connectionsCheckingInterval` (30 s by default), which would let a
    // stalled client hold its socket for up to twice the configured timeout.
    const connectionsCheckingInterval = Math.max(250, Math.min(5_000, Math.floor(requestTimeout / 4)));
    this.server = createServer({ connectionsCheckingInterval }, (req, res) => void this.serve(req, res));
    this.server.requestTimeout = requestTimeout;
    this.server.headersTimeout = Math.min(this.server.requestTimeout, 20_000);
    this.server.keepAliveTimeout = 5_000;
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.server.address() as AddressInfo;
  }

  /** Stops accepting connections and resolves once every in-flight request has been answered. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    this.server.closeAllConnections();
    await closed;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight++;
    try {
      const limit = this.options.maxBodyBytes ?? 1_048_576;
      const body = await readBody(req, limit);
      if (body === 'too-large') {
        // Answer once the client has finished sending, so it reads the 413 instead of dying on a reset connection
        // (EPIPE); a body far past the limit, or one that never ends, gets the answer and a closed connection.
        const drained = await drain(req, DRAIN_MAX_BYTES, DRAIN_MAX_MS);
        res.writeHead(413, { 'content-type': 'application/json', ...(drained ? {} : { connection: 'close' }) });
        const message = `request body exceeds ${limit} bytes`;
        res.end(errorBody({ status: 413, code: 'payload_too_large', message, exposed: true }, 'none'));
        return;
      }
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const rawPath = q === -1 ? url : url.slice(0, q);
      const query: Record<string, string> = {};
      if (q !== -1) for (const [k, v] of new URLSearchParams(url.slice(q + 1))) query[k] = v;
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string') headers[name] = value;
        else if (Array.isArray(value)) headers[name] = value.join(', ');
      }
      const request: BrokerRequest = {
        method: req.method ?? 'GET',
        rawPath,
        query,
        headers,
        body: body.length === 0 ? undefined : body,
        sourceIp: normaliseIp(req.socket.remoteAddress ?? ''),
      };
      const response = await this.broker.handle(request);
      res.writeHead(response.status, response.headers);
      res.end(response.bytes ?? response.body);
    } catch {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(errorBody({ status: 500, code: 'internal', message: 'internal error', exposed: false }, 'none'));
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) this.idle?.();
    }
  }
}

/** How much of an oversized body is read and thrown away so that the client can read the 413. */
const DRAIN_MAX_BYTES = 16 * 1_048_576;
const DRAIN_MAX_MS = 5_000;

/** Discards the rest of a request body: true once it ended, false past `maxBytes` or `maxMs`. */
function drain(req: IncomingMessage, maxBytes: number, maxMs: number): Promise<boolean> {
  if (req.complete) return Promise.resolve(true);
  return new Promise((resolve) => {
    let size = 0;
    const finish = (ended: boolean) => {
      clearTimeout(timer);
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      resolve(ended);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) finish(false);
    };
    const onEnd = () => finish(true);
    const timer = setTimeout(() => finish(false), maxMs);
    req.on('data', onData);
    req.on('end', onEnd);
    req.resume();
  });
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      req.resume();
      resolve('too-large');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        resolve('too-large');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

/** `::ffff:127.0.0.1` → `127.0.0.1`, so IPv4 CIDR conditions apply to IPv4 callers on a dual-stack socket. */
function normaliseIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
