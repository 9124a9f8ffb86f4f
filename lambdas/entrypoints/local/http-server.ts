import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Broker } from '../../broker/broker.ts';
import { errorBody } from '../../broker/http-errors.ts';
import type { BrokerRequest } from '../../broker/http-types.ts';
import type { AuditLog } from '../../core/audit/audit-log.ts';
import { AllowedHosts, type AllowedHostsOptions } from '../../core/auth/allowed-hosts.ts';
import { crossSiteRefusal } from '../../core/auth/cross-site.ts';
import { ConsoleAssets } from './console-assets.ts';
import type { TlsListenerOptions } from './tls.ts';

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  /** @default 1_048_576 */
  readonly maxBodyBytes?: number;
  /** A request that has not completed in this time is answered 408 by Node. @default 30_000 */
  readonly requestTimeoutMs?: number;
  /**
   * The `Host` names answered; any other gets 421 before the broker sees the request (DNS rebinding).
   * @default loopback names only
   */
  readonly allowedHosts?: AllowedHostsOptions;
  /** Where a refused `Host` is recorded. @default nowhere */
  readonly audit?: Pick<AuditLog, 'response' | 'excluded'>;
  /** Serve HTTPS with these; with `ca`, every client must present a certificate chaining to it. @default plain HTTP */
  readonly tls?: TlsListenerOptions | undefined;
  /** Origins a browser may name for this server besides its own `Host` (its public URL's). @default none */
  readonly ownOrigins?: readonly string[];
  /** The web console served under `/ui/`. @default none (`/ui/` is then the broker's 404) */
  readonly console?: ConsoleAssets | undefined;
}

/** The operation name audit records of a refused `Host` carry. */
export const MISDIRECTED_OPERATION = 'http.misdirected';
/** The operation name audit records of a refused cross-site request carry. */
export const CROSS_SITE_OPERATION = 'http.cross-site';
/** How much of a refused `Host` goes into the audit record: enough to recognise the name, never a flood. */
const AUDITED_HOST_CHARS = 255;

/**
 * Serves the broker over node:http. It only translates: body limits are enforced while streaming (an oversized
 * upload is cut off at the limit, not buffered), everything else is the broker's job.
 */
export class LocalHttpServer {
  private readonly server: Server | HttpsServer;
  private readonly hosts: AllowedHosts;
  private inFlight = 0;
  private idle: (() => void) | undefined;

  constructor(
    private readonly broker: Pick<Broker, 'handle'>,
    private readonly options: HttpServerOptions,
  ) {
    this.hosts = new AllowedHosts(options.allowedHosts);
    const requestTimeout = options.requestTimeoutMs ?? 30_000;
    // Node only looks for expired requests every `connectionsCheckingInterval` (30 s by default), which would let a
    // stalled client hold its socket for up to twice the configured timeout.
    const connectionsCheckingInterval = Math.max(250, Math.min(5_000, Math.floor(requestTimeout / 4)));
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.serve(req, res);
    const tls = options.tls;
    this.server =
      tls === undefined
        ? createServer({ connectionsCheckingInterval }, handler)
        : createHttpsServer(
            {
              connectionsCheckingInterval,
              ...secureContextOptions(tls),
              // A client CA means client certificates are asked for and, unless `clientAuth` is `request`, required:
              // one without is refused at the handshake, before any HTTP is read. Turning this on or off takes a
              // restart; the CA itself is reloaded with the rest.
              requestCert: tls.ca !== undefined,
              rejectUnauthorized: tls.ca !== undefined && tls.clientAuth !== 'request',
            },
            handler,
          );
    if (tls?.ca !== undefined && tls.clientAuth === 'request') {
      // node:tls lets an unverified certificate through when it does not reject unauthorised clients: such a
      // connection is closed before any HTTP is read (a client without a certificate is let through). Prepended, so
      // it runs before node:http's own listener starts parsing requests already buffered on the socket.
      this.server.prependListener('secureConnection', (socket: TLSSocket) => {
        if (!socket.authorized && presentedCertificate(socket)) socket.destroy();
      });
    }
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

  /**
   * Serves a renewed certificate, key or client CA to new handshakes; open connections keep the context they were
   * established with, so none is dropped.
   * @throws Error when there is no TLS listener, or node:tls rejects the material (the old context stays)
   */
  reloadTls(tls: TlsListenerOptions): void {
    if (!('setSecureContext' in this.server)) throw new Error('this listener serves plain HTTP');
    if (
      (tls.ca !== undefined) !== (this.options.tls?.ca !== undefined) ||
      (tls.clientAuth ?? 'require') !== (this.options.tls?.clientAuth ?? 'require')
    ) {
      throw new Error('requiring client certificates or not changes only with a restart');
    }
    this.server.setSecureContext(secureContextOptions(tls));
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
      if (!this.hosts.allows(req.headers.host)) {
        await this.misdirected(req, res);
        return;
      }
      const consoleAssets = this.options.console;
      const pathOnly = (req.url ?? '/').split('?', 1)[0]!;
      if (consoleAssets !== undefined && ConsoleAssets.owns(pathOnly)) {
        const answer = consoleAssets.answer(req.method ?? 'GET', pathOnly);
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
        req.resume();
        return;
      }
      const crossSite = crossSiteRefusal({
        method: req.method ?? 'GET',
        headers: req.headers as Record<string, string | undefined>,
        scheme: this.options.tls === undefined ? 'http' : 'https',
        ownOrigins: this.options.ownOrigins,
      });
      if (crossSite !== undefined) {
        await this.refuse(req, res, {
          operation: CROSS_SITE_OPERATION,
          status: 403,
          code: 'cross_site_request',
          message: crossSite,
        });
        return;
      }
      const limit = this.options.maxBodyBytes ?? 1_048_576;
      const body = await readBody(req, limit);
      const tooLarge = body === 'too-large';
      // Answer once the client has finished sending, so it reads the 413 instead of dying on a reset connection
      // (EPIPE); a body far past the limit, or one that never ends, gets the answer and a closed connection. The
      // broker gives the 413 (marked `bodyTooLarge`), so the refusal is audited like any other.
      const drained = !tooLarge || (await drain(req, DRAIN_MAX_BYTES, DRAIN_MAX_MS));
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
        body: tooLarge || body.length === 0 ? undefined : body,
        sourceIp: normaliseIp(req.socket.remoteAddress ?? ''),
        ...clientCertificateOf(req),
        ...(q === -1 ? {} : { rawQuery: url.slice(q + 1) }),
        ...(tooLarge ? { bodyTooLarge: true } : {}),
      };
      const response = await this.broker.handle(request);
      res.writeHead(response.status, drained ? response.headers : { ...response.headers, connection: 'close' });
      res.end(response.bytes ?? response.body);
    } catch {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(errorBody({ status: 500, code: 'internal', message: 'internal error', exposed: false }, 'none'));
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) this.idle?.();
    }
  }

  /**
   * Refuses a request for a `Host` this node does not answer to: nothing of it is read or handled, the connection is
   * closed, and the refusal is audited when an audit log is given.
   */
  private misdirected(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return this.refuse(req, res, {
      operation: MISDIRECTED_OPERATION,
      status: MISDIRECTED_STATUS,
      code: 'misdirected_request',
      message: MISDIRECTED_MESSAGE,
    });
  }

  /**
   * Refuses a request before the broker sees it (a `Host` not answered, a cross-site write): nothing of it is read or
   * handled, the connection is closed, and the refusal is audited when an audit log is given. A failed audit write
   * changes nothing, since no operation ran.
   */
  private async refuse(req: IncomingMessage, res: ServerResponse, refusal: Refusal): Promise<void> {
    const requestId = randomUUID();
    const audit = this.options.audit;
    if (audit !== undefined && !audit.excluded(refusal.operation, '')) {
      const host = req.headers.host;
      const origin = req.headers.origin;
      await audit
        .response({
          requestId,
          operation: refusal.operation,
          path: '',
          sourceIp: normaliseIp(req.socket.remoteAddress ?? ''),
          request: {
            host: host === undefined ? null : host.slice(0, AUDITED_HOST_CHARS),
            method: req.method ?? '',
            ...(refusal.operation === CROSS_SITE_OPERATION
              ? { origin: origin === undefined ? null : origin.slice(0, AUDITED_HOST_CHARS) }
              : {}),
          },
          outcome: 'denied',
          status: refusal.status,
          errorCode: refusal.code,
        })
        .catch(() => {
          // The request is refused either way; the broker's own records report an unavailable audit log.
        });
    }
    // AWS clients read `__type`; everyone else gets the native error shape.
    const body =
      req.headers['x-amz-target'] === undefined
        ? errorBody({ status: refusal.status, code: refusal.code, message: refusal.message, exposed: true }, requestId)
        : JSON.stringify({ __type: AWS_REFUSAL_TYPES[refusal.code], message: refusal.message });
    res.writeHead(refusal.status, {
      'content-type': req.headers['x-amz-target'] === undefined ? 'application/json' : 'application/x-amz-json-1.1',
      connection: 'close',
    });
    res.end(body);
    req.resume();
  }
}

interface Refusal {
  readonly operation: string;
  readonly status: number;
  readonly code: 'misdirected_request' | 'cross_site_request';
  readonly message: string;
}

const AWS_REFUSAL_TYPES: Record<Refusal['code'], string> = {
  misdirected_request: 'MisdirectedRequest',
  cross_site_request: 'AccessDeniedException',
};

function secureContextOptions(tls: TlsListenerOptions) {
  return { cert: tls.cert, key: tls.key, minVersion: tls.minVersion, ...(tls.ca === undefined ? {} : { ca: tls.ca }) };
}

/**
 * The client certificate node:tls verified against the client CA (DER), for certificate login. A connection that is
 * not `authorized` carries none: a certificate that did not verify must not reach the broker.
 */
function clientCertificateOf(req: IncomingMessage): { clientCertificate?: Buffer } {
  const socket = req.socket as Partial<TLSSocket>;
  if (socket.encrypted !== true || socket.authorized !== true) return {};
  const certificate = socket.getPeerX509Certificate?.();
  return certificate === undefined ? {} : { clientCertificate: certificate.raw };
}

/** Whether the client sent a certificate at all (node:tls answers an empty object when it did not). */
function presentedCertificate(socket: TLSSocket): boolean {
  const peer = socket.getPeerCertificate();
  return peer !== null && typeof peer === 'object' && Object.keys(peer).length > 0;
}

/** Status and error names of a refused `Host`: 421 says "not this server", which is what rebinding amounts to. */
const MISDIRECTED_STATUS = 421;
const MISDIRECTED_MESSAGE = 'this server does not answer to the requested Host';

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
