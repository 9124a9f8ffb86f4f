import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIP, isIPv6, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { EgressGuard } from '../../core/egress/egress-policy.ts';

/** Where a network audit device sends its records. */
export interface NetTarget {
  readonly host: string;
  readonly port: number;
  readonly transport: 'udp' | 'tcp' | 'tls';
  /** PEM certificates the collector's may chain to (TLS). @default the system's trusted CAs */
  readonly caPem?: string;
  /** The name the collector's certificate must carry (TLS). @default `host` */
  readonly serverName?: string;
}

export interface NetTransportOptions {
  /** What the egress allow-list is asked about (and names in a refusal). */
  readonly purpose: string;
  /**
   * How long a connect or a write may take before the device counts as failed and the connection is dropped: a hung
   * collector must not hold requests (another device records them, or the request fails closed). @default 5000
   */
  readonly timeoutMs?: number;
}

/** The largest datagram UDP carries; a record over it cannot go by UDP and fails on this device. */
const MAX_DATAGRAM_BYTES = 65_507;

/**
 * The wire under a network audit device: one UDP socket, or one TCP/TLS connection kept open and re-dialled after a
 * failure. Every dial asks the egress guard first and dials the address it checked, so neither a stored host name nor
 * a DNS answer can send records off the allow-list; TLS still verifies the certificate against the host name.
 *
 * `send` resolves once the bytes are handed to the OS (TCP, TLS) or the datagram is sent (UDP): syslog and plain
 * sockets have no acknowledgement, so a record is on its way, not known to be stored.
 */
export class NetTransport {
  readonly #target: NetTarget;
  readonly #egress: EgressGuard;
  readonly #purpose: string;
  readonly #timeoutMs: number;
  #stream: Promise<Socket> | undefined;
  #udp: Promise<{ socket: UdpSocket; address: string }> | undefined;
  #closed = false;

  constructor(target: NetTarget, egress: EgressGuard, options: NetTransportOptions) {
    this.#target = target;
    this.#egress = egress;
    this.#purpose = options.purpose;
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  async send(payload: Buffer): Promise<void> {
    if (this.#closed) throw new Error('audit device is closed');
    if (this.#target.transport === 'udp') return this.#sendDatagram(payload);
    const socket = await this.#connected();
    await this.#withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.write(payload, (err) => (err ? reject(err) : resolve()));
      }),
      () => socket.destroy(),
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    const stream = this.#stream;
    const udp = this.#udp;
    this.#stream = undefined;
    this.#udp = undefined;
    await stream?.then(
      (socket) => new Promise<void>((resolve) => socket.end(resolve)),
      () => {},
    );
    await udp?.then(
      ({ socket }) => new Promise<void>((resolve) => socket.close(() => resolve())),
      () => {},
    );
  }

  async #sendDatagram(payload: Buffer): Promise<void> {
    if (payload.length > MAX_DATAGRAM_BYTES) {
      throw Object.assign(new Error('record too large for one UDP datagram'), { code: 'EMSGSIZE' });
    }
    this.#udp ??= this.#resolve().then((address) => {
      const socket = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
      socket.on('error', () => this.#dropUdp(socket));
      return { socket, address };
    });
    const udp = this.#udp;
    const { socket, address } = await udp.catch((err) => {
      if (this.#udp === udp) this.#udp = undefined;
      throw err;
    });
    await this.#withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.send(payload, this.#target.port, address, (err) => (err ? reject(err) : resolve()));
      }),
      () => this.#dropUdp(socket),
    );
  }

  #dropUdp(socket: UdpSocket): void {
    void this.#udp?.then((current) => {
      if (current.socket === socket) this.#udp = undefined;
    });
    try {
      socket.close();
    } catch {
      // already closed
    }
  }

  #resolve(): Promise<string> {
    return this.#egress.resolve({ host: this.#target.host, port: this.#target.port, purpose: this.#purpose });
  }

  #connected(): Promise<Socket> {
    if (this.#stream !== undefined) return this.#stream;
    const dialling = this.#dial();
    this.#stream = dialling;
    dialling.then(
      (socket) => {
        // A connection that breaks is forgotten, so the next record dials afresh.
        const forget = () => {
          if (this.#stream === dialling) this.#stream = undefined;
        };
        socket.on('close', forget);
        socket.on('error', forget);
      },
      () => {
        if (this.#stream === dialling) this.#stream = undefined;
      },
    );
    return dialling;
  }

  async #dial(): Promise<Socket> {
    const { host, port, transport, caPem, serverName } = this.#target;
    const address = await this.#resolve();
    const socket =
      transport === 'tls'
        ? tlsConnect({
            host: address,
            port,
            minVersion: 'TLSv1.2',
            ...(caPem !== undefined && { ca: caPem }),
            // The certificate is checked against the configured name, not the address dialled; SNI only for names.
            ...((serverName ?? host) !== '' && isIP(serverName ?? host) === 0 && { servername: serverName ?? host }),
          })
        : netConnect({ host: address, port });
    // Collectors do not answer; whatever arrives is read and dropped so the socket never stalls on it.
    socket.on('data', () => {});
    socket.on('error', () => {});
    await this.#withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once(transport === 'tls' ? 'secureConnect' : 'connect', () => resolve());
        socket.once('error', reject);
      }),
      () => socket.destroy(),
    );
    return socket;
  }

  async #withTimeout<T>(work: Promise<T>, abandon: () => void): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abandon();
        reject(Object.assign(new Error(`${this.#purpose}: timed out`), { code: 'ETIMEDOUT' }));
      }, this.#timeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
