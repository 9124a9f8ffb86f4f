import { type AddressInfo, createServer } from 'node:net';
import type { Clock } from '../../core/ports/clock.ts';
import { systemClock } from '../../core/ports/clock.ts';
import { initialise, isInitialised, type LocalNode, openLocalNode } from './compose.ts';
import { type LocalConfig, listenerTransport, listenUrl } from './config.ts';
import { builtConsoleDir, ConsoleAssets } from './console-assets.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { LocalHttpServer } from './http-server.ts';
import { servedHosts } from './served-names.ts';
import { initialiseOrJoin, usesSharedStore } from './shared-store.ts';
import { loadTlsOptions, type TlsFiles, tlsFilesOf } from './tls.ts';

export interface RunningServer {
  readonly address: AddressInfo;
  readonly node: LocalNode;
  /** `http` or `https`. */
  readonly scheme: 'http' | 'https';
  /** The listener's certificate files; undefined for plain HTTP. `devCa` is set for dev TLS. */
  readonly tls: TlsFiles | undefined;
  /**
   * Reads the certificate, key and client CA files again and serves them to new handshakes (SIGHUP). A failure
   * leaves the old ones in place.
   * @throws Error saying why (a file unreadable or not PEM, a key not matching its certificate)
   */
  reloadTls(): Promise<void>;
  /** Graceful: stop accepting, finish in-flight requests, flush and close the store and the audit log. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Called once, on the first start, with the new root token. */
  readonly onInitialised?: (rootToken: string) => void;
  readonly clock?: Clock;
}

/**
 * `coffer server`: initialise on first start, then serve the broker on the loopback address, to the `Host` names of
 * {@link servedHosts} only. One server per data dir: a second start on a dir in use fails before it reads anything.
 * @throws DataDirInUseError when another process serves the data dir
 */
export async function startLocalServer(given: LocalConfig, options: StartOptions = {}): Promise<RunningServer> {
  const config = await withPortChosen(given);
  // Certificates first: a refused transport or an unreadable key fails the start before anything is initialised.
  const tlsFiles = await tlsFilesOf(config);
  const tls = tlsFiles === undefined ? undefined : await loadTlsOptions(tlsFiles);
  // Before initialising too: two first starts racing on an empty dir would each create a keyring and a root token.
  const lock = lockDataDir(config.dataDir);
  let node: LocalNode;
  try {
    if (usesSharedStore(config)) {
      // Nodes sharing a store initialise it once between them; every other start joins it.
      const { rootToken } = await initialiseOrJoin(config);
      if (rootToken !== undefined) options.onInitialised?.(rootToken);
    } else if (!isInitialised(config.dataDir)) {
      const { rootToken } = await initialise(config);
      options.onInitialised?.(rootToken);
    }
    node = await openLocalNode(config, options.clock ?? systemClock);
  } catch (err) {
    lock.release();
    throw err;
  }
  const consoleDir = builtConsoleDir();
  const http = new LocalHttpServer(node.broker, {
    host: config.host,
    port: config.port,
    maxBodyBytes: config.maxBodyBytes,
    requestTimeoutMs: config.requestTimeoutMs,
    allowedHosts: servedHosts(config),
    audit: node.deps.audit,
    tls,
    ownOrigins: [new URL(config.publicUrl).origin],
    console: consoleDir === undefined ? undefined : ConsoleAssets.load(consoleDir, { region: config.region }),
  });
  let address: AddressInfo;
  try {
    address = await http.listen();
  } catch (err) {
    await node.close();
    lock.release();
    throw err;
  }
  const purge = setInterval(() => {
    node.purgeExpired().catch(() => {
      // A failed purge is retried on the next tick; secrets past their window already read as not found.
    });
  }, config.purgeIntervalMs);
  purge.unref();
  let stopping: Promise<void> | undefined;
  return {
    address,
    node,
    scheme: tls === undefined ? 'http' : 'https',
    tls: tlsFiles,
    async reloadTls() {
      if (tlsFiles === undefined) throw new Error('the listener serves plain HTTP');
      http.reloadTls(await loadTlsOptions(tlsFiles));
    },
    stop() {
      stopping ??= (async () => {
        clearInterval(purge);
        await http.close();
        try {
          await node.close();
        } finally {
          // Only once the store and the audit log are closed may another server take the dir.
          lock.release();
        }
      })();
      return stopping;
    },
  };
}

/**
 * Port 0 ("any free port") with the default public URL: the URL issued certificates name must carry the port the node
 * will serve on, and services are composed before the listener binds, so a free port is chosen first. Another process
 * taking it in between makes the listen fail loudly, never a certificate naming the wrong port.
 */
async function withPortChosen(config: LocalConfig): Promise<LocalConfig> {
  const scheme = listenerTransport(config).kind === 'plain' ? 'http' : 'https';
  if (config.port !== 0 || config.publicUrl !== listenUrl(config.host, 0, scheme)) return config;
  const probe = createServer();
  const port = await new Promise<number>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, config.host, () => resolve((probe.address() as AddressInfo).port));
  });
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return { ...config, port, publicUrl: listenUrl(config.host, port, scheme) };
}
