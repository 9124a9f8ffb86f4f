import { readFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import packageJson from '../../../../package.json' with { type: 'json' };
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';

/** The image the injected agent runs, unless `--agent-image` or a pod's `coffer.io/agent-image` names another. */
export const DEFAULT_AGENT_IMAGE = `coffer:${packageJson.version}`;

interface InjectorFlags {
  listen: string;
  tlsCert: string;
  tlsKey: string;
  cofferAddr: string;
  agentImage: string;
  caCert?: string;
}

/** `host:port`, `[v6]:port` or `:port`. */
function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (match === null || !(port >= 0 && port <= 65_535)) {
    throw new CliError(`--listen takes host:port (e.g. 0.0.0.0:8443), got "${text}"`, ExitCode.usage);
  }
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

export function registerInjectorCommand(program: Command): void {
  const env = (option: Option, variable: string) => option.env(`COFFER_INJECTOR_${variable}`);
  program
    .command('injector')
    .description(
      'the Kubernetes mutating admission webhook: injects `coffer agent` (an init container and a sidecar) into pods ' +
        'annotated coffer.io/agent-inject: "true"; serves POST /mutate and GET /healthz over HTTPS (docs/kubernetes-injected-pods.md)',
    )
    .addOption(env(new Option('--listen <host:port>', 'where to serve').default('0.0.0.0:8443'), 'LISTEN'))
    .addOption(
      env(
        new Option(
          '--tls-cert <file>',
          'the serving certificate chain (PEM), re-read when it changes',
        ).makeOptionMandatory(),
        'TLS_CERT',
      ),
    )
    .addOption(env(new Option('--tls-key <file>', 'its private key (PEM)').makeOptionMandatory(), 'TLS_KEY'))
    .addOption(
      env(
        new Option('--coffer-addr <url>', 'the address injected agents reach Coffer at').makeOptionMandatory(),
        'COFFER_ADDR',
      ),
    )
    .addOption(
      env(
        new Option('--agent-image <image>', 'the image of the injected agent').default(DEFAULT_AGENT_IMAGE),
        'AGENT_IMAGE',
      ),
    )
    .addOption(
      env(new Option('--ca-cert <file>', 'CA certificates (PEM) the agents trust for --coffer-addr'), 'CA_CERT'),
    )
    .action(async (flags: InjectorFlags) => {
      const { host, port } = parseListen(flags.listen);
      let address: URL;
      try {
        address = new URL(flags.cofferAddr);
      } catch {
        throw new CliError(`--coffer-addr must be a URL, got "${flags.cofferAddr}"`, ExitCode.usage);
      }
      if (address.protocol !== 'https:' && address.protocol !== 'http:') {
        throw new CliError('--coffer-addr must be an http(s) URL', ExitCode.usage);
      }
      const caPem =
        flags.caCert === undefined
          ? undefined
          : await readFile(flags.caCert, 'utf8').catch((err: NodeJS.ErrnoException) => {
              throw new CliError(`cannot read --ca-cert ${flags.caCert}: ${err.code ?? 'error'}`, ExitCode.usage);
            });
      if (caPem !== undefined && !caPem.includes('-----BEGIN CERTIFICATE-----')) {
        throw new CliError(`--ca-cert ${flags.caCert} holds no PEM certificate`, ExitCode.usage);
      }
      const log = (message: string) => process.stderr.write(`coffer injector: ${message}\n`);
      const { startInjectorServer } = await import('../../../injector/injector-server.ts');
      const running = await startInjectorServer({
        host,
        port,
        tlsCertFile: flags.tlsCert,
        tlsKeyFile: flags.tlsKey,
        settings: { cofferAddress: flags.cofferAddr, agentImage: flags.agentImage, caPem },
        log,
      }).catch((err: NodeJS.ErrnoException) => {
        throw new CliError(`cannot serve on ${flags.listen}: ${err.code ?? err.message}`, ExitCode.failure);
      });
      process.stdout.write(
        `coffer injector listening on https://${host.includes(':') ? `[${host}]` : host}:${running.port}\n`,
      );
      process.on('SIGHUP', () => void running.reloadTls());
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.once(signal, () => {
          log(`${signal}: stopping`);
          void running.close().then(() => process.exit(0));
        });
      }
    });
}
