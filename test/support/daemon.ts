import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { waitFor } from './wait-for.ts';

/** A server a test started in the foreground, with its own temp dir. */
export interface TestDaemon {
  /** What it printed so far (stdout and stderr), for failure messages. */
  output(): string;
  /** Stops it (SIGTERM, then waits for the exit) and removes its dir; a second call does nothing. */
  stop(): Promise<void>;
}

/**
 * Starts `command` in the foreground and waits until `ready` says it serves. A daemon that exits first, or never gets
 * ready, is stopped and its dir removed, and the error carries its output.
 */
export async function startDaemon(options: {
  /** Names it in errors ("sshd to listen", "sshd exited"). */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Removed on stop. */
  readonly dir: string;
  /** What "serving" means: listening on its ports, answering a probe. */
  readonly ready: () => boolean | Promise<boolean>;
  /** @default 100 */
  readonly intervalMs?: number;
}): Promise<TestDaemon> {
  let output = '';
  const child: ChildProcess = spawn(options.command, options.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped = false;
  const daemon: TestDaemon = {
    output: () => output,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(options.dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(
      `${options.name} to serve`,
      async () => {
        if (child.exitCode !== null) throw new Error(`${options.name} exited (${child.exitCode}): ${output}`);
        return options.ready();
      },
      { intervalMs: options.intervalMs ?? 100, detail: () => output },
    );
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  return daemon;
}
