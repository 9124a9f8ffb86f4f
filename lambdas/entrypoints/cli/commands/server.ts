import type { Command } from 'commander';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type { LocalConfigInput } from '../../local/config.ts';
import { client, print } from '../io.ts';
import { progressOf } from '../progress.ts';

// The node (store, engines, AWS SDK, pg) loads only for the commands that run one: every other command starts
// without it (issue 18: a CLI call starts in well under half a second).
const localConfig = () => import('../../local/config.ts');

interface ServerFlags {
  dataDir?: string;
  host?: string;
  port?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  tlsClientAuth?: string;
  tlsMinVersion?: string;
  devTls?: boolean;
  insecurePlainHttp?: boolean;
  storeUrl?: string;
  keyringFile?: string;
}

/** Flags win, then `COFFER_*` variables, then the defaults: only flags actually given become overrides. */
async function config(flags: ServerFlags) {
  const { loadLocalConfig } = await localConfig();
  const overrides: Partial<LocalConfigInput> = {};
  if (flags.dataDir !== undefined) overrides.dataDir = flags.dataDir;
  if (flags.host !== undefined) overrides.host = flags.host;
  if (flags.port !== undefined) overrides.port = Number(flags.port);
  if (flags.tlsCert !== undefined) overrides.tlsCert = flags.tlsCert;
  if (flags.tlsKey !== undefined) overrides.tlsKey = flags.tlsKey;
  if (flags.tlsClientCa !== undefined) overrides.tlsClientCa = flags.tlsClientCa;
  if (flags.tlsClientAuth !== undefined)
    overrides.tlsClientAuth = flags.tlsClientAuth as LocalConfigInput['tlsClientAuth'];
  if (flags.tlsMinVersion !== undefined)
    overrides.tlsMinVersion = flags.tlsMinVersion as LocalConfigInput['tlsMinVersion'];
  if (flags.devTls !== undefined) overrides.devTls = flags.devTls;
  if (flags.insecurePlainHttp !== undefined) overrides.insecurePlainHttp = flags.insecurePlainHttp;
  if (flags.storeUrl !== undefined) overrides.storeUrl = flags.storeUrl;
  if (flags.keyringFile !== undefined) overrides.keyringFile = flags.keyringFile;
  return loadLocalConfig(process.env, overrides);
}

function announceRootToken(token: string, rootTokenFile: string): void {
  process.stdout.write(
    [
      'Coffer initialised.',
      `Root token (shown once; also saved to ${rootTokenFile}, mode 0600):`,
      '',
      `    ${token}`,
      '',
      'Use it with: export COFFER_TOKEN=$(cat <root-token file>)',
      '',
    ].join('\n'),
  );
}

/** What {@link onShutdownSignals} needs of the process: its signals, stdout and exit (tests pass fakes). */
export interface ShutdownProcess {
  on(signal: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
  off(signal: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
  /** Calls `then` once the line is written (a pipe may be asynchronous: exiting first could lose it). */
  write(line: string, then?: () => void): unknown;
  exit(code: number): void;
}

const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * SIGINT and SIGTERM stop the server gracefully: finish in-flight requests, flush and close the store and the audit
 * log, say so, exit 0. The handlers are installed before the node opens, not once it listens: until a process has a
 * handler, a signal kills it (exit status "killed by SIGTERM", not 0), and a supervisor or a test may stop it the
 * moment it says it listens, or while it is still starting. A signal during start-up waits for the start, then
 * stops. A repeated signal changes nothing (the first is already finishing; SIGKILL remains for a forced stop).
 */
export function onShutdownSignals(proc: ShutdownProcess = nodeProcess): {
  /** The server is up: stop it now if a signal came first. */
  started(server: { stop(): Promise<void> }): void;
  /** Start-up failed: remove the handlers, so the error exits as usual. */
  abandon(): void;
} {
  let server: { stop(): Promise<void> } | undefined;
  let signalled = false;
  let finishing = false;
  const finish = () => {
    if (server === undefined || !signalled || finishing) return;
    finishing = true;
    server.stop().then(
      () => proc.write('Coffer stopped\n', () => proc.exit(0)),
      () => proc.write('Coffer stopped with errors\n', () => proc.exit(1)),
    );
  };
  const listeners = SHUTDOWN_SIGNALS.map((signal) => {
    const listener = () => {
      if (signalled) {
        proc.write(`${signal}: already finishing in-flight requests\n`);
        return;
      }
      signalled = true;
      proc.write(`${signal}: finishing in-flight requests\n`);
      finish();
    };
    proc.on(signal, listener);
    return [signal, listener] as const;
  });
  return {
    started(running) {
      server = running;
      finish();
    },
    abandon() {
      for (const [signal, listener] of listeners) proc.off(signal, listener);
    },
  };
}

const nodeProcess: ShutdownProcess = {
  on: (signal, listener) => process.on(signal, listener),
  off: (signal, listener) => process.off(signal, listener),
  write: (line, then) => process.stdout.write(line, then === undefined ? undefined : () => then()),
  exit: (code) => process.exit(code),
};

export function registerServerCommands(program: Command): void {
  program
    .command('init')
    .description('create the keyring, the audit salt and the root token (COFFER_PASSPHRASE seals the root key)')
    .option('--data-dir <dir>', 'default .coffer, or COFFER_DATA_DIR')
    .option('--store-url <url>', 'initialise this shared PostgreSQL store (postgres://…), or COFFER_STORE_URL')
    .option(
      '--keyring-file <file>',
      'with --store-url: the shared keyring (created if missing), or COFFER_KEYRING_FILE',
    )
    .action(async (flags: ServerFlags) => {
      const cfg = await config(flags);
      const [{ initialise, isInitialised }, { dataPaths, redactStoreUrl }, { lockDataDir }, shared] = await Promise.all(
        [
          import('../../local/compose.ts'),
          localConfig(),
          import('../../local/data-dir-lock.ts'),
          import('../../local/shared-store.ts'),
        ],
      );
      // A server starting on the same empty dir would initialise it too: one of the two must wait its turn.
      const lock = lockDataDir(cfg.dataDir);
      try {
        if (shared.usesSharedStore(cfg)) {
          const { rootToken } = await shared.initialiseOrJoin(cfg);
          if (rootToken === undefined) {
            throw new CliError(
              `the store at ${redactStoreUrl(cfg.storeUrl)} is already initialised`,
              ExitCode.conflict,
            );
          }
          announceRootToken(rootToken, dataPaths(cfg.dataDir).rootToken);
          return;
        }
        if (isInitialised(cfg.dataDir)) throw new CliError(`${cfg.dataDir} is already initialised`, ExitCode.conflict);
        const { rootToken } = await initialise(cfg);
        announceRootToken(rootToken, dataPaths(cfg.dataDir).rootToken);
      } finally {
        lock.release();
      }
    });

  program
    .command('server')
    .description('run the local single-node server (initialises on first start)')
    .option('--data-dir <dir>', 'default .coffer, or COFFER_DATA_DIR')
    .option('--host <host>', 'default 127.0.0.1, or COFFER_HOST')
    .option('--port <port>', 'default 8270, or COFFER_PORT')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate chain (PEM), or COFFER_TLS_CERT')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM), or COFFER_TLS_KEY')
    .option('--tls-client-ca <file>', 'require client certificates from this CA (PEM), or COFFER_TLS_CLIENT_CA')
    .option(
      '--tls-client-auth <mode>',
      'require (default): no certificate, no connection; request: clients without one may use tokens, or COFFER_TLS_CLIENT_AUTH',
    )
    .option('--tls-min-version <version>', '1.3 (default) or 1.2, or COFFER_TLS_MIN_VERSION')
    .option(
      '--dev-tls',
      'generate a CA and server certificate in <data-dir>/tls/ (default when --host is not loopback)',
    )
    .option('--no-dev-tls', 'never generate one (plain HTTP on a non-loopback host is then refused)')
    .option('--insecure-plain-http', 'serve plain HTTP on a non-loopback host, or COFFER_INSECURE_PLAIN_HTTP=1')
    .option('--store-url <url>', 'share this PostgreSQL store with other nodes (postgres://…), or COFFER_STORE_URL')
    .option('--keyring-file <file>', 'with --store-url: the keyring all nodes share, or COFFER_KEYRING_FILE')
    .action(async (flags: ServerFlags) => {
      const cfg = await config(flags);
      const [{ startLocalServer }, { dataPaths }] = await Promise.all([import('../../local/server.ts'), localConfig()]);
      // Clock-jump drills (the soak campaign clock-jumps) move this node's clock alone, never outside fault injection.
      const clock = cfg.faultInjection
        ? await import('../../local/fault-clock.ts').then((m) => m.fileOffsetClock(m.faultClockFile(cfg.dataDir)).clock)
        : undefined;
      const shutdown = onShutdownSignals();
      let running: Awaited<ReturnType<typeof startLocalServer>>;
      try {
        running = await startLocalServer(cfg, {
          onInitialised: (token) => announceRootToken(token, dataPaths(cfg.dataDir).rootToken),
          ...(clock !== undefined && { clock }),
        });
      } catch (err) {
        shutdown.abandon();
        throw err;
      }
      const { address, port } = running.address;
      const host = address.includes(':') ? `[${address}]` : address;
      if (running.tls?.devCa !== undefined) {
        process.stdout.write(
          `Development TLS: clients trust its CA with\n\n    export COFFER_CACERT=${running.tls.devCa}\n\n`,
        );
      }
      const store = cfg.storeUrl === undefined ? '' : `, store: ${(await localConfig()).redactStoreUrl(cfg.storeUrl)}`;
      process.stdout.write(`Coffer listening on ${running.scheme}://${host}:${port} (data: ${cfg.dataDir}${store})\n`);
      shutdown.started(running);
      // SIGHUP is the log-rotation and certificate-renewal signal: both are done, each failing on its own.
      process.on('SIGHUP', () => {
        running.node.reopenAudit().catch(() => {
          process.stderr.write('audit log reopen failed: requests are refused until it succeeds\n');
        });
        if (running.tls === undefined) return;
        running.reloadTls().then(
          () => process.stdout.write('TLS certificate reloaded\n'),
          (err: unknown) => {
            const reason = err instanceof Error ? err.message : 'unknown error';
            process.stderr.write(`TLS certificate reload failed, still serving the previous one: ${reason}\n`);
          },
        );
      });
    });

  const keyring = program.command('keyring').description('manage the root key and named keys');
  keyring
    .command('rotate')
    .description('rotate the root key and re-wrap every data key')
    .action(async (_flags: unknown, command: Command) => {
      const api = client(command);
      // One call re-wraps every data key: with many secrets that takes a while, and says nothing until it ends.
      const result = await progressOf(command, 'rotating the root key').run(
        () => api.call('POST', '/v1/sys/keyring/rotate'),
        (rotated) => `${String(rotated.rewrapped)} data keys re-wrapped`,
      );
      print(
        command,
        result,
        () => `root key rotated to ${String(result.keyId)}; ${String(result.rewrapped)} data keys re-wrapped`,
      );
    });

  const key = keyring.command('key').description('named keys secrets may be sealed under (--kms-key-id, KmsKeyId)');
  key
    .command('create <alias>')
    .description('create a named key, sealed under the root key; name it as alias/<alias> in a secret')
    .action(async (alias: string, _flags: unknown, command: Command) => {
      const created = await client(command).call<KeyView>('POST', '/v1/sys/keyring/keys', { body: { alias } });
      print(
        command,
        created,
        () => `created key ${created.keyId} (${created.arn}) as alias/${created.aliases[0] ?? alias}`,
      );
    });
  key
    .command('list')
    .description("the keyring's named keys")
    .action(async (_flags: unknown, command: Command) => {
      const listed = await client(command).call<{ keys: KeyView[] }>('GET', '/v1/sys/keyring/keys');
      print(command, listed, () =>
        listed.keys.map((k) => `${k.aliases.map((a) => `alias/${a}`).join(',')}\t${k.keyId}\t${k.arn}`).join('\n'),
      );
    });
}

/** A customer key as `/v1/sys/keyring/keys` answers it (api/keys.ts). */
interface KeyView {
  readonly arn: string;
  readonly keyId: string;
  readonly aliases: readonly string[];
}
