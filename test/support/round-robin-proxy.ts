import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

/** A backend the proxy forwards to. */
export interface Backend {
  readonly host: string;
  readonly port: number;
}

export interface RoundRobinProxy {
  /** `http://127.0.0.1:<port>`: the one address clients use. */
  readonly address: string;
  /** Connections forwarded to each backend so far, by `host:port`. */
  readonly forwarded: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

/**
 * What a load balancer in front of several Coffer nodes does, at the TCP level (node:net): each client connection goes
 * to the next backend in turn, and a backend whose connect fails is skipped for the next one, so a killed node stops
 * receiving connections as soon as it stops accepting them. A connection already forwarded to a node that dies is
 * cut, as a real balancer's would be. Listens on a free loopback port.
 *
 * @example
 * const proxy = await startRoundRobinProxy([{ host: '127.0.0.1', port: 8271 }, { host: '127.0.0.1', port: 8272 }]);
 * await fetch(`${proxy.address}/v1/sys/health`);
 * await proxy.close();
 */
export async function startRoundRobinProxy(backends: readonly Backend[]): Promise<RoundRobinProxy> {
  if (backends.length === 0) throw new RangeError('a proxy needs at least one backend');
  let next = 0;
  const forwarded = new Map<string, number>();
  const open = new Set<Socket>();

  /** Connects to the backends from the next one on, each at most once; undefined when none accepts. */
  function dial(tried = 0): Promise<{ socket: Socket; key: string } | undefined> {
    if (tried === backends.length) return Promise.resolve(undefined);
    const backend = backends[next]!;
    next = (next + 1) % backends.length;
    const key = `${backend.host}:${backend.port}`;
    return new Promise((resolve) => {
      const socket = connect({ host: backend.host, port: backend.port });
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        resolve({ socket, key });
      });
      socket.once('error', () => {
        socket.destroy();
        resolve(dial(tried + 1));
      });
    });
  }

  const server = createServer({ pauseOnConnect: true }, (client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    void dial().then((upstream) => {
      if (upstream === undefined || client.destroyed) {
        upstream?.socket.destroy();
        client.destroy();
        return;
      }
      const { socket, key } = upstream;
      forwarded.set(key, (forwarded.get(key) ?? 0) + 1);
      open.add(socket);
      socket.on('close', () => {
        open.delete(socket);
        client.destroy();
      });
      socket.on('error', () => socket.destroy());
      client.on('close', () => socket.destroy());
      client.pipe(socket);
      socket.pipe(client);
      client.resume();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    address: `http://127.0.0.1:${port}`,
    forwarded,
    close() {
      for (const socket of open) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
