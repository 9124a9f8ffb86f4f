import type { Command } from 'commander';

/**
 * Progress of a long CLI operation, on STDERR: stdout stays the command's answer, so `--output json` stays one valid
 * JSON document and `$(coffer …)` captures the answer alone (as gh, the aws CLI and vault do).
 *
 * On a terminal one line is redrawn in place: a bar with counts and a percentage when the total is known, a spinner
 * with the elapsed time and the current step when not; it ends as one final line. Anywhere else (a pipe, a file, CI
 * logs, `TERM=dumb`) a plain line is written only when the state changes, with no control characters, so a log reads
 * as a list of steps. `NO_COLOR` drops the colour of the final mark; `--quiet` drops progress altogether.
 */
export interface ProgressStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  /** Terminal width: a redrawn line longer than this would wrap, and `\r` would then redraw only its last row. */
  readonly columns?: number;
}

export interface ProgressOptions {
  /** @default process.stderr */
  readonly stream?: ProgressStream;
  /** `TERM` and `NO_COLOR` are read from here. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** @default Date.now */
  readonly now?: () => number;
  /**
   * Calls `redraw` every `ms` until the returned function is called: the spinner turns while the command awaits a
   * single request. Only used on a terminal. @default an unref'd setInterval (progress never keeps the CLI alive)
   */
  readonly every?: (redraw: () => void, ms: number) => () => void;
  /** Nothing is written. @default false */
  readonly quiet?: boolean;
  /** The first step, already on the first line. */
  readonly step?: string;
}

/** Ten frames a second reads as motion without redrawing more than a terminal needs. */
const REDRAW_MS = 100;
const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const BAR_WIDTH = 20;
const CLEAR_LINE = '\r\x1b[2K';

const defaultEvery = (redraw: () => void, ms: number): (() => void) => {
  const timer = setInterval(redraw, ms);
  timer.unref();
  return () => clearInterval(timer);
};

/** Elapsed time: whole seconds while it runs (a tenth-of-a-second counter flickers), tenths at the end. */
export function elapsed(ms: number, precise = false): string {
  if (ms < 60_000) return precise ? `${(ms / 1000).toFixed(1)}s` : `${Math.floor(ms / 1000)}s`;
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}

export class Progress {
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly mode: 'tty' | 'plain' | 'quiet';
  private readonly colour: boolean;
  private readonly started: number;
  private readonly stopTimer: () => void;
  private text: string | undefined;
  private counts: { done: number; total: number } | undefined;
  private lastPlain: string | undefined;
  private frame = 0;
  private ended = false;

  /** `label` says what runs, e.g. `rotating prod/db`; it starts every line. */
  constructor(
    private readonly label: string,
    options: ProgressOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    this.now = options.now ?? Date.now;
    const env = options.env ?? process.env;
    this.mode = options.quiet === true ? 'quiet' : this.stream.isTTY === true && env.TERM !== 'dumb' ? 'tty' : 'plain';
    // https://no-color.org: set and not empty disables colour.
    this.colour = env.NO_COLOR === undefined || env.NO_COLOR === '';
    this.started = this.now();
    this.text = options.step;
    this.stopTimer =
      this.mode === 'tty'
        ? (options.every ?? defaultEvery)(() => {
            this.frame = (this.frame + 1) % SPINNER.length;
            this.redraw();
          }, REDRAW_MS)
        : () => {};
    this.show();
  }

  /**
   * The current step, e.g. `setSecret`, with the counts of a known total when it has them: one change of state, so
   * one plain line.
   */
  step(text: string, counts?: { done: number; total: number }): this {
    this.text = text;
    if (counts !== undefined) this.counts = counts;
    this.show();
    return this;
  }

  /**
   * Counts of a known total: the terminal shows a bar and a percentage instead of the spinner. Off a terminal a line
   * names the step, or the counts when there is no step.
   */
  count(done: number, total: number): this {
    this.counts = { done, total };
    this.show();
    return this;
  }

  /** Ends with one final line: `label: summary (elapsed)`. */
  done(summary = 'done'): void {
    this.end('✓', '\x1b[32m', summary);
  }

  /** Ends with one final line naming the failure; the error itself is the command's to print. */
  fail(summary = 'failed'): void {
    this.end('✗', '\x1b[31m', summary);
  }

  /**
   * Runs `task` under this progress: done with `summary(result)` when it resolves, failed when it throws (so the
   * error message never lands on the end of a half-drawn spinner line).
   */
  async run<T>(task: (progress: this) => Promise<T>, summary?: (result: T) => string): Promise<T> {
    try {
      const result = await task(this);
      this.done(summary?.(result));
      return result;
    } catch (err) {
      this.fail();
      throw err;
    }
  }

  private show(): void {
    if (this.ended) return;
    if (this.mode === 'plain') {
      const line = this.plainLine();
      if (line !== this.lastPlain) {
        this.lastPlain = line;
        this.stream.write(`${line}\n`);
      }
      return;
    }
    this.redraw();
  }

  private plainLine(): string {
    const state = this.text ?? (this.counts === undefined ? undefined : `${this.counts.done}/${this.counts.total}`);
    return state === undefined ? `${this.label}...` : `${this.label}: ${state}`;
  }

  private redraw(): void {
    if (this.ended || this.mode !== 'tty') return;
    const took = elapsed(this.now() - this.started);
    const parts: string[] = [];
    if (this.counts === undefined) {
      parts.push(`${SPINNER[this.frame]} ${this.label}`);
    } else {
      const { done, total } = this.counts;
      const share = total > 0 ? Math.min(Math.max(done / total, 0), 1) : 0;
      const filled = Math.round(share * BAR_WIDTH);
      parts.push(
        this.label,
        `[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}]`,
        `${done}/${total}`,
        `${Math.floor(share * 100)}%`,
      );
    }
    if (this.text !== undefined) parts.push(this.text);
    parts.push(took);
    this.stream.write(`${CLEAR_LINE}${this.fit(parts.join(' '))}`);
  }

  /** Cuts a redrawn line to the terminal width, so it never wraps. */
  private fit(line: string): string {
    const width = this.stream.columns;
    if (width === undefined || width <= 1) return line;
    const chars = [...line];
    return chars.length < width ? line : `${chars.slice(0, width - 2).join('')}…`;
  }

  private end(mark: string, colour: string, summary: string): void {
    if (this.ended) return;
    this.ended = true;
    this.stopTimer();
    if (this.mode === 'quiet') return;
    const line = `${this.label}: ${summary} (${elapsed(this.now() - this.started, true)})`;
    if (this.mode === 'plain') {
      this.stream.write(`${line}\n`);
      return;
    }
    const shown = this.colour ? `${colour}${mark}\x1b[0m` : mark;
    this.stream.write(`${CLEAR_LINE}${shown} ${line}\n`);
  }
}

/** A command's progress: on stderr, silenced by the global `--quiet`. */
export function progressOf(command: Command, label: string, options: ProgressOptions = {}): Progress {
  const { quiet } = command.optsWithGlobals<{ quiet?: boolean }>();
  return new Progress(label, { quiet: quiet === true, ...options });
}
