import { type ChildProcess, spawn } from 'node:child_process';
import type { Command } from 'commander';
import { childEnvironment, exitStatus, forwardSignals, spawnFailureStatus } from '../../../agent/child-process.ts';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import { parseEnvBinding, selectField, versionKey } from '../../../agent/secret-ref.ts';
import { type ApiCall, SecretSource } from '../../../agent/secret-source.ts';
import { client, collect } from '../io.ts';

/**
 * Resolves every `NAME=secret[#field][@stage]` binding to its value. Each (secret, stage) is read once, so two
 * fields of one secret come from the same version.
 */
export async function resolveBindings(api: ApiCall, bindings: readonly string[]): Promise<Map<string, string>> {
  const parsed = bindings.map(parseEnvBinding);
  const seen = new Set<string>();
  for (const { variable } of parsed) {
    if (seen.has(variable)) throw new CliError(`--secret ${variable} is given twice`, ExitCode.usage);
    seen.add(variable);
  }
  const source = new SecretSource(() => api);
  const reads = new Map<string, Promise<string>>();
  for (const { ref } of parsed) {
    const key = versionKey(ref);
    if (!reads.has(key))
      reads.set(
        key,
        source.read(ref.name, { stage: ref.stage }).then((s) => s.value),
      );
  }
  // Promise.all observes every read, so a second failure is not an unhandled rejection; the first is reported.
  const values = new Map(await Promise.all([...reads].map(async ([key, read]) => [key, await read] as const)));
  const env = new Map<string, string>();
  for (const { variable, ref } of parsed) {
    env.set(variable, selectField(ref, values.get(versionKey(ref))!));
  }
  return env;
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description(
      'run a command with secrets added to its environment only (never argv, never this process); ' +
        'signals are forwarded and the exit status is the child’s. Put the command after "--".',
    )
    .requiredOption(
      '--secret <NAME=secret[#field][@stage]>',
      'inject a secret (or one field of a JSON secret) as $NAME; repeatable',
      collect,
    )
    .argument('<command...>', 'the command and its arguments, after "--"')
    .action(async (argv: string[], flags: { secret: string[] }, command: Command) => {
      const api = client(command);
      const injected = await resolveBindings(api.call.bind(api) as ApiCall, flags.secret);
      process.exitCode = await runChild(argv, injected);
    });
}

/** Spawns the child with the secrets in its environment, forwards signals, and resolves to its exit status. */
function runChild(argv: readonly string[], injected: ReadonlyMap<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const env = childEnvironment(process.env, injected);
    // Handlers first: with none installed, a SIGTERM arriving just after the child started would kill this process
    // (the default action) and orphan the child. Installed first, it is handled once `child` is set.
    let child: ChildProcess | undefined;
    const stopForwarding = forwardSignals(() => child);
    try {
      child = spawn(argv[0]!, argv.slice(1), { env, stdio: 'inherit' });
    } catch (err) {
      stopForwarding();
      throw err;
    }
    child.once('error', (err: NodeJS.ErrnoException) => {
      stopForwarding();
      process.stderr.write(`error: cannot run ${argv[0]}: ${err.code ?? err.message}\n`);
      resolve(spawnFailureStatus(err));
    });
    child.once('exit', (code, signal) => {
      stopForwarding();
      resolve(exitStatus(code, signal));
    });
  });
}
