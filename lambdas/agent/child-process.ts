import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import { CliError, ExitCode } from './exit-codes.ts';

/**
 * Signals `coffer run` and the agent's exec mode pass on to their child. SIGUSR1 is among them on purpose: a
 * listener for it also stops Node from opening its inspector on that signal, which would expose the secrets in this
 * process's memory to any local debugger client.
 */
export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;
export type ForwardedSignal = (typeof FORWARDED_SIGNALS)[number];

/**
 * The status a shell would report for a child: its exit code, or 128 + the signal number if a signal killed it.
 * @example exitStatus(null, 'SIGTERM') // 143
 */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const number = signal === null ? undefined : os.constants.signals[signal];
  return number === undefined ? 1 : 128 + number;
}

/**
 * The environment of a child that receives secrets: a copy of ours without the Coffer token (the child gets the
 * values it was given, not the credential to read others), plus the injected variables. `process.env` itself is
 * never modified, so the values do not appear in this process's environment (or `/proc/<pid>/environ`).
 * @throws CliError (usage) for a value with a NUL byte, naming the variable only.
 */
export function childEnvironment(
  base: NodeJS.ProcessEnv,
  injected: ReadonlyMap<string, string> | Record<string, string>,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  delete env.COFFER_TOKEN;
  const entries = injected instanceof Map ? [...injected] : Object.entries(injected);
  for (const [name, value] of entries) {
    // spawn() would reject it with an error message that quotes the value.
    if (value.includes('\0')) {
      throw new CliError(
        `the value for ${name} contains a NUL byte, which an environment variable cannot hold`,
        ExitCode.usage,
      );
    }
    env[name] = value;
  }
  return env;
}

/**
 * Installs handlers that pass each forwarded signal to the current child (if any), instead of the default of dying.
 * @param onSignal optional hook, called after forwarding (the agent uses it to stop when it has no child).
 * @returns a function that removes the handlers.
 */
export function forwardSignals(
  target: () => ChildProcess | undefined,
  onSignal?: (signal: ForwardedSignal) => void,
): () => void {
  const handlers = FORWARDED_SIGNALS.map((signal) => {
    const handler = () => {
      const child = target();
      if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill(signal);
      onSignal?.(signal);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}

/** Exit statuses shells use when a command cannot be started: 127 not found, 126 not executable. */
export function spawnFailureStatus(err: NodeJS.ErrnoException): number {
  return err.code === 'ENOENT' ? 127 : 126;
}
