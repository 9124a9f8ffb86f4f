import { type ChildProcess, spawn } from 'node:child_process';
import type { Command } from 'commander';
import { childEnvironment, exitStatus, forwardSignals, spawnFailureStatus } from '../../../agent/child-process.ts';
import { readEnvFile } from '../../../agent/dotenv.ts';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';
import { parseEnvBinding, selectField, versionKey } from '../../../agent/secret-ref.ts';
import { type ApiCall, SecretSource } from '../../../agent/secret-source.ts';
import { client, collect } from '../io.ts';

/**
 * A `.env` file's variables for `coffer run --env-file`: each `coffer://secret[#field][@stage]` value becomes a
 * binding to resolve, any other value is passed as it is.
 */
export async function envFileBindings(
  file: string,
): Promise<{ bindings: string[]; plain: ReadonlyMap<string, string> }> {
  const { secrets, plain } = await readEnvFile(file);
  // The stage is always written out, so a name holding "@" reads back as the same reference.
  const bindings = [...secrets].map(
    ([key, ref]) => `${key}=${ref.name}${ref.field === undefined ? '' : `#${ref.field}`}@${ref.stage}`,
  );
  return { bindings, plain };
}

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
    .option(
      '--secret <NAME=secret[#field][@stage]>',
      'inject a secret (or one field of a JSON secret) as $NAME; repeatable',
      collect,
    )
    .option(
      '--env-file <file>',
      'add the variables of a .env file; a value coffer://secret[#field][@stage] is resolved, others are passed as they are',
    )
    .argument('<command...>', 'the command and its arguments, after "--"')
    .action(async (argv: string[], flags: { secret?: string[]; envFile?: string }, command: Command) => {
      if (flags.secret === undefined && flags.envFile === undefined) {
        throw new CliError('give --secret NAME=secret (repeatable) or --env-file FILE', ExitCode.usage);
      }
      const fromFile =
        flags.envFile === undefined
          ? { bindings: [], plain: new Map<string, string>() }
          : await envFileBindings(flags.envFile);
      for (const binding of flags.secret ?? []) {
        const variable = binding.slice(0, binding.indexOf('='));
        if (fromFile.plain.has(variable)) throw new CliError(`--secret ${variable} is given twice`, ExitCode.usage);
      }
      const api = client(command);
      const resolved = await resolveBindings(api.call.bind(api) as ApiCall, [
        ...fromFile.bindings,
        ...(flags.secret ?? []),
      ]);
      process.exitCode = await runChild(argv, new Map([...fromFile.plain, ...resolved]));
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
