import { type ChildProcess, spawn } from 'node:child_process';
import { exitStatus, spawnFailureStatus } from './child-process.ts';

export interface ExecSupervisorOptions {
  readonly command: readonly string[];
  /** Signal that asks the child to stop before a restart. */
  readonly stopSignal: NodeJS.Signals;
  /** How long to wait after `stopSignal` before SIGKILL. */
  readonly killTimeoutMs: number;
  readonly log: (message: string) => void;
  /** Called once when the child exits on its own (not during a restart we asked for), with its exit status. */
  readonly onExit: (status: number) => void;
}

/**
 * Runs one child process with secrets in its environment and restarts it when they change: stop signal, wait up to
 * the kill timeout, SIGKILL, then start again with the new environment.
 */
export class ExecSupervisor {
  private child: ChildProcess | undefined;
  private restarting = false;
  private finished = false;
  private shuttingDown = false;
  private lastStatus = 0;

  constructor(private readonly options: ExecSupervisorOptions) {}

  /** The running child, for signal forwarding. */
  process(): ChildProcess | undefined {
    return this.child;
  }

  start(env: NodeJS.ProcessEnv): void {
    const [file, ...args] = this.options.command;
    const child = spawn(file!, args, { env, stdio: 'inherit' });
    this.child = child;
    let reported = false;
    const report = (status: number) => {
      if (reported) return;
      reported = true;
      if (this.child === child) this.child = undefined;
      this.lastStatus = status;
      if (this.restarting) return;
      this.finish(status);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      this.options.log(`cannot run ${file}: ${err.code ?? err.message}`);
      report(spawnFailureStatus(err));
    });
    child.once('exit', (code, signal) => report(exitStatus(code, signal)));
  }

  /** Stops the current child (if it runs) and starts a new one with `env`. */
  async restart(env: NodeJS.ProcessEnv): Promise<void> {
    if (this.finished) return;
    this.restarting = true;
    try {
      await this.stopChild();
    } finally {
      this.restarting = false;
    }
    if (this.finished) return;
    if (this.shuttingDown) {
      this.finish(this.lastStatus);
      return;
    }
    this.options.log('restarting the child: its secrets changed');
    this.start(env);
  }

  /**
   * The agent is stopping (it was sent SIGINT/SIGTERM, which is forwarded to the child): no more restarts. If no child
   * is running, for instance mid-restart, the exit is reported now.
   */
  shutdown(signal: NodeJS.Signals): void {
    this.shuttingDown = true;
    if (this.child === undefined && !this.restarting && !this.finished) this.finish(exitStatus(null, signal));
  }

  private finish(status: number): void {
    if (this.finished) return;
    this.finished = true;
    this.options.onExit(status);
  }

  private async stopChild(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(this.options.stopSignal);
    const timer = setTimeout(() => {
      this.options.log(`the child did not stop within ${this.options.killTimeoutMs} ms: SIGKILL`);
      child.kill('SIGKILL');
    }, this.options.killTimeoutMs);
    await exited;
    clearTimeout(timer);
  }
}
