import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { EgressGuard } from '../../core/egress/egress-policy.ts';

/**
 * A `pg` stream factory (`ClientConfig.stream`) whose socket asks the egress guard before it dials, and dials the
 * address the guard checked, so neither a stored host nor a DNS answer can send a credential off the allow-list.
 * TLS still verifies against the host name (`pg` sets the servername from the configured host).
 *
 * @example new pg.Client({ host, port, user, password, stream: guardedStream(egress, 'postgres rotation') })
 */
export function guardedStream(egress: EgressGuard, purpose: string): () => Duplex {
  return () => {
    const socket = new Socket();
    const dial = socket.connect.bind(socket) as (port: number, host: string) => Socket;
    // pg calls connect(port, host) and waits for 'connect' or 'error': both still happen, only later.
    Object.defineProperty(socket, 'connect', {
      value: (port: number | string, host?: string) => {
        if (host === undefined || host.startsWith('/')) {
          queueMicrotask(() => socket.destroy(new Error(`${purpose}: Unix-domain sockets are not an allowed target`)));
          return socket;
        }
        egress.resolve({ host, port: Number(port), purpose }).then(
          (address) => dial(Number(port), address),
          (err: Error) => socket.destroy(err),
        );
        return socket;
      },
    });
    return socket;
  };
}
