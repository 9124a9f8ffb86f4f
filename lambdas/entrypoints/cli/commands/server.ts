import type { Command } from 'commander';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type { LocalConfigInput } from '../../local/config.ts';
import { client, print } from '../io.ts';

// The node (store, engines, AWS SDK, pg) loads only for the commands that run one: every other command starts
// without it (issue 18: a CLI call starts in well under half a second).
const localConfig = () => import('../../local/config.ts');

interface ServerFlags {
  dataDir?: string;
  host?: string;
  port?: string;
}

/** Flags win, then `COFFER_*` variables, then the defaults: only flags actually given become overrides. */
async function config(flags: ServerFlags) {
  const { loadLocalConfig } = await localConfig();
  const overrides: Partial<LocalConfigInput> = {};
  if (flags.dataDir !== undefined) overrides.dataDir = flags.dataDir;
  if (flags.host !== undefined) overrides.host = flags.host;
  if (flags.port !== undefined) overrides.port = Number(flags.port);
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

export function registerServerCommands(program: Command): void {
  program
    .command('init')
    .description('create the keyring, the audit salt and the root token (COFFER_PASSPHRASE seals the root key)')
    .option('--data-dir <dir>', 'default .coffer, or COFFER_DATA_DIR')
    .action(async (flags: ServerFlags) => {
      const cfg = await config(flags);
      const [{ initialise, isInitialised }, { dataPaths }] = await Promise.all([
        import('../../local/compose.ts'),
        localConfig(),
      ]);
      if (isInitialised(cfg.dataDir)) throw new CliError(`${cfg.dataDir} is already initialised`, ExitCode.conflict);
      const { rootToken } = await initialise(cfg);
      announceRootToken(rootToken, dataPaths(cfg.dataDir).rootToken);
    });

  program
    .command('server')
    .description('run the local single-node server (initialises on first start)')
    .option('--data-dir <dir>', 'default .coffer, or COFFER_DATA_DIR')
    .option('--host <host>', 'default 127.0.0.1, or COFFER_HOST')
    .option('--port <port>', 'default 8270, or COFFER_PORT')
    .action(async (flags: ServerFlags) => {
      const cfg = await config(flags);
      const [{ startLocalServer }, { dataPaths }] = await Promise.all([import('../../local/server.ts'), localConfig()]);
      const running = await startLocalServer(cfg, {
        onInitialised: (token) => announceRootToken(token, dataPaths(cfg.dataDir).rootToken),
      });
      const { address, port } = running.address;
      process.stdout.write(`Coffer listening on http://${address}:${port} (data: ${cfg.dataDir})\n`);
      const shutdown = (signal: string) => {
        process.stdout.write(`${signal}: finishing in-flight requests\n`);
        running.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', () => shutdown('SIGINT'));
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGHUP', () => {
        running.node.reopenAudit().catch(() => {
          process.stderr.write('audit log reopen failed: requests are refused until it succeeds\n');
        });
      });
    });

  const keyring = program.command('keyring').description('manage the root key');
  keyring
    .command('rotate')
    .description('rotate the root key and re-wrap every data key')
    .action(async (_flags: unknown, command: Command) => {
      const result = await client(command).call('POST', '/v1/sys/keyring/rotate');
      print(
        command,
        result,
        () => `root key rotated to ${String(result.keyId)}; ${String(result.rewrapped)} data keys re-wrapped`,
      );
    });
}
