import type { Command } from 'commander';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import { globals, integer, print } from '../io.ts';

interface DevPostgresFlags {
  dataDir: string;
  port: number;
}

/** Relative to the working directory, beside `.coffer/`. */
export const DEV_POSTGRES_DATA_DIR = '.coffer-postgres';
/** Not 5432, so a PostgreSQL installed on the machine does not clash. */
export const DEV_POSTGRES_PORT = 5433;

function port(value: string): number {
  const n = integer('--port')(value);
  if (n < 0 || n > 65_535) throw new CliError('--port must be between 0 and 65535', ExitCode.usage);
  return n;
}

export function registerDevCommands(program: Command): void {
  const dev = program.command('dev').description('development helpers (not for production)');
  dev
    .command('postgres')
    .description(
      'run a PostgreSQL on 127.0.0.1 for the dynamic-credentials walkthrough, in the foreground until SIGINT or ' +
        'SIGTERM; the first run creates the cluster and <data-dir>/admin.json (mode 0600), the superuser ' +
        'credential `coffer db config put --admin-secret` expects',
    )
    .option('--data-dir <dir>', 'the cluster, its admin.json and its log', DEV_POSTGRES_DATA_DIR)
    .option('--port <port>', '0 picks a free port', port, DEV_POSTGRES_PORT)
    .action(async (flags: DevPostgresFlags, command: Command) => {
      // A bad --output fails before anything starts.
      globals(command);
      // PostgreSQL's tooling and pg load with this command only.
      const { runDevPostgres } = await import('../dev-postgres.ts');
      const stop = new AbortController();
      const onSignal = (signal: NodeJS.Signals) => {
        process.stderr.write(`${signal}: stopping PostgreSQL\n`);
        stop.abort();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await runDevPostgres({
          dataDir: flags.dataDir,
          port: flags.port,
          stop: stop.signal,
          onReady: (ready) => {
            print(command, ready, () =>
              [
                `PostgreSQL ${ready.version} listening on ${ready.host}:${ready.port} (data: ${ready.dataDir})`,
                `admin credential: ${ready.adminFile} (mode 0600)`,
              ].join('\n'),
            );
          },
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
