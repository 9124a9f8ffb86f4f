import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { TokenSource } from '../../../agent/auto-auth.ts';
import type { AgentConfig } from '../../../agent/config.ts';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import type { ApiCall } from '../../../agent/secret-source.ts';
import { ApiClient } from '../api-client.ts';
import { globals } from '../io.ts';

/**
 * The configuration from `--config <file>`, or from the variable `--config-env` names: the Kubernetes injector
 * hands the agent its configuration that way, so the image needs no shell or writable file system to write one.
 * Relative paths are resolved against the file's directory, or the working directory for a variable.
 */
async function loadConfig(flags: { config?: string; configEnv?: string }): Promise<AgentConfig> {
  if ((flags.config === undefined) === (flags.configEnv === undefined)) {
    throw new CliError('give one of --config <file> and --config-env <variable>', ExitCode.usage);
  }
  let origin: string;
  let text: string;
  let baseDir: string;
  if (flags.config !== undefined) {
    const file = flags.config;
    origin = file;
    text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new CliError(`cannot read ${file}: ${err.code ?? 'error'}`, ExitCode.usage);
    });
    baseDir = path.dirname(path.resolve(file));
  } else {
    const variable = flags.configEnv as string;
    origin = `$${variable}`;
    const value = process.env[variable];
    if (value === undefined || value === '') throw new CliError(`${origin} is not set`, ExitCode.usage);
    text = value;
    baseDir = process.cwd();
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${origin} is not valid JSON: ${err instanceof Error ? err.message : ''}`, ExitCode.usage);
  }
  // The agent loads with its command only, so the rest of the CLI starts without it.
  const { parseAgentConfig } = await import('../../../agent/config.ts');
  return parseAgentConfig(json, baseDir);
}

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description(
      'render secrets into files (atomically, mode 0600 by default) and/or run a child with secrets in its ' +
        'environment, keeping both current; see the README for the config file',
    )
    .option('--config <file>', 'the agent configuration (JSON)')
    .option('--config-env <variable>', 'the agent configuration (JSON) in this environment variable instead of a file')
    .option('--once', 'render the templates once and exit (no polling, no exec)')
    .action(async (flags: { config?: string; configEnv?: string; once?: boolean }, command: Command) => {
      const config = await loadConfig(flags);
      if (flags.once === true && config.exec !== undefined) {
        throw new CliError(
          '--once renders templates only; for one child with secrets use `coffer run`',
          ExitCode.usage,
        );
      }
      if (flags.once === true && config.cache !== undefined) {
        throw new CliError('--once renders templates only; the cache needs a running agent', ExitCode.usage);
      }
      const { address, token } = globals(command);
      const log = (message: string) => process.stderr.write(`coffer agent: ${message}\n`);
      const auth = config.auto_auth;
      let tokenSource: TokenSource;
      if (auth === undefined) tokenSource = { kind: 'static', token, origin: '--token / $COFFER_TOKEN' };
      else if (auth.method === 'token_file') tokenSource = { kind: 'file', path: auth.path };
      else if (auth.method === 'env') {
        tokenSource = { kind: 'static', token: process.env[auth.variable], origin: `$${auth.variable}` };
      } else {
        const { agentLogin } = await import('../../../agent/login-credentials.ts');
        // Unwrapping needs no token: the wrapping token is the credential.
        const anonymous = new ApiClient({
          address: config.address ?? address,
          token: undefined,
          ...(auth.method === 'cert' && { clientCertFile: auth.client_cert, clientKeyFile: auth.client_key }),
        });
        tokenSource = {
          kind: 'login',
          login: agentLogin(auth, log, {
            lookup: (wrapped) => anonymous.call('POST', '/v1/sys/wrapping/lookup', { body: { token: wrapped } }),
            unwrap: (wrapped) => anonymous.call('POST', '/v1/sys/wrapping/unwrap', { body: { token: wrapped } }),
          }),
        };
      }
      // With certificate login, every request presents the certificate (a listener may require one of every caller).
      const clientCert =
        auth?.method === 'cert' ? { clientCertFile: auth.client_cert, clientKeyFile: auth.client_key } : {};
      const api = (current: string | undefined): ApiCall => {
        const client = new ApiClient({ address: config.address ?? address, token: current, ...clientCert });
        return client.call.bind(client) as ApiCall;
      };
      const { runAgent } = await import('../../../agent/agent.ts');
      process.exitCode = await runAgent({
        config,
        address: config.address ?? address,
        token: tokenSource,
        api,
        once: flags.once === true,
        env: process.env,
        log,
      });
    });
}
