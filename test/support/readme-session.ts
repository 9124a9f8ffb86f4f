import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { it } from 'vitest';
import { freePort } from './free-port.ts';
import type { ShellBlock } from './readme-blocks.ts';
import { COFFER_BIN } from './server-process.ts';

const CHECKOUT = path.resolve(import.meta.dirname, '../..');

/** The ports the README names, which a test never binds: each becomes a free port in every block. */
export const README_PORTS = { coffer: 8270, postgres: 5433 } as const;

/**
 * How the README's commands resolve inside a session. `npx coffer` runs this checkout's CLI directly (npx itself
 * spends about two seconds per call finding it), `npm start` runs its server (the build is already fresh: e2e tests
 * refuse a stale one), `npm ci` has already run, and `npx cdk` runs in the checkout, where cdk.json is, writing its
 * output to the session's directory.
 */
const PRELUDE = `
npm() {
  case "\${1:-}" in
    start) shift; node "$README_COFFER_BIN" server "$@" ;;
    ci) echo "(readme test: npm ci has already run)" ;;
    *) command npm "$@" ;;
  esac
}
npx() {
  case "\${1:-}" in
    coffer) shift; node "$README_COFFER_BIN" "$@" ;;
    cdk) shift; (cd "$README_CHECKOUT" && command npx --no-install cdk "$@" --output "$README_CDK_OUT") ;;
    *) command npx "$@" ;;
  esac
}
__readme_save_state() {
  local __name __decl __flags
  {
    for __name in $(compgen -v); do
      case "$__name" in
        __*|BASH*|COMP*|FUNCNAME|GROUPS|PIPESTATUS|LINENO|RANDOM|SRANDOM|SECONDS|EPOCH*|OLDPWD|PWD|SHLVL|DIRSTACK|HIST*|OPT*|PPID|UID|EUID|SHELLOPTS|IFS|PS[0-9]|_) continue ;;
      esac
      __decl=$(declare -p "$__name" 2>/dev/null) || continue
      __flags=\${__decl#declare -}
      case "\${__flags%% *}" in *r*) continue ;; esac
      printf '%s\\n' "$__decl"
    done
    printf 'cd %q\\n' "$PWD"
  } > "$README_STATE.tmp"
  mv "$README_STATE.tmp" "$README_STATE"
}
`;

/** Tokens the README's blocks print (the root token, child tokens): never copied into a failure message. */
const TOKEN = /cft_[A-Za-z0-9_-]{16,}/g;

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Background {
  readonly block: ShellBlock;
  readonly child: ChildProcess;
  output: string;
}

export interface ReadmeSessionOptions {
  /** Extra environment (the AWS emulator's endpoint and credentials, for the `aws` blocks). */
  readonly env?: Record<string, string>;
}

/**
 * One reader following the README from a fresh directory: blocks run in order, each in its own `bash` with `set -euo
 * pipefail`, and what a reader's shell would keep between them (variables, exported or not, and the working
 * directory) is carried over in a state file. Server blocks run in the background, in their own process group.
 */
export class ReadmeSession {
  /** The reader's working directory (where `.coffer/` and the walkthroughs' files land). */
  readonly dir: string;
  readonly ports: { readonly coffer: number; readonly postgres: number };
  private readonly internal: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly background = new Map<string, Background>();

  private constructor(dir: string, internal: string, ports: ReadmeSession['ports'], extra: Record<string, string>) {
    this.dir = dir;
    this.internal = internal;
    this.ports = ports;
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('COFFER_') && !k.startsWith('AWS_')),
    );
    this.env = {
      ...inherited,
      NO_COLOR: '1',
      // A machine's own AWS profile, region or instance role must not leak into the walkthroughs.
      AWS_CONFIG_FILE: path.join(internal, 'aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(internal, 'aws-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      CDK_DISABLE_VERSION_CHECK: '1',
      // The README's defaults, moved to free ports: the server's, and the CLI's idea of where it is.
      COFFER_PORT: String(ports.coffer),
      COFFER_ADDR: `http://127.0.0.1:${ports.coffer}`,
      README_COFFER_BIN: COFFER_BIN,
      README_CHECKOUT: CHECKOUT,
      README_CDK_OUT: path.join(dir, 'cdk.out'),
      README_STATE: path.join(internal, 'state.sh'),
      ...extra,
    };
  }

  static async open(options: ReadmeSessionOptions = {}): Promise<ReadmeSession> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-readme-'));
    // A checkout is usually world-traversable; `coffer dev postgres` runs PostgreSQL as another user (when root).
    chmodSync(dir, 0o755);
    const internal = mkdtempSync(path.join(os.tmpdir(), 'coffer-readme-session-'));
    mkdirSync(path.join(internal, 'blocks'));
    writeFileSync(path.join(internal, 'prelude.sh'), PRELUDE);
    writeFileSync(path.join(internal, 'state.sh'), `cd ${JSON.stringify(dir)}\n`);
    const ports = { coffer: await freePort(), postgres: await freePort() };
    return new ReadmeSession(dir, internal, ports, options.env ?? {});
  }

  /** The block's text with the README's ports replaced by this session's. */
  localise(code: string): string {
    return code
      .replace(new RegExp(`\\b${README_PORTS.coffer}\\b`, 'g'), String(this.ports.coffer))
      .replace(new RegExp(`\\b${README_PORTS.postgres}\\b`, 'g'), String(this.ports.postgres));
  }

  private script(block: ShellBlock, saveState: boolean): string {
    const file = path.join(this.internal, 'blocks', `${block.line}.sh`);
    const lines = [
      `source ${JSON.stringify(path.join(this.internal, 'prelude.sh'))}`,
      `source "$README_STATE"`,
      'set -euo pipefail',
      `# README.md:${block.line}`,
      this.localise(block.code),
    ];
    if (saveState) lines.push('__readme_save_state');
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  }

  private redact(text: string): string {
    let out = text.replace(TOKEN, 'cft_<redacted>');
    const rootToken = path.join(this.dir, '.coffer', 'root-token');
    if (existsSync(rootToken)) {
      const token = readFileSync(rootToken, 'utf8').trim();
      if (token !== '') out = out.split(token).join('<root token>');
    }
    return out;
  }

  private describe(block: ShellBlock, what: string, output: string): Error {
    const shown = this.redact(output).trimEnd();
    return new Error(
      `README.md:${block.line} (${block.heading}) ${what}\n--- block ---\n${block.code}--- output ---\n${shown}`,
    );
  }

  /** Runs a block to its end; rejects, naming the block and showing its output, unless it exits 0. */
  run(block: ShellBlock, timeoutMs = 120_000): Promise<string> {
    const file = this.script(block, true);
    return new Promise((resolve, reject) => {
      const child = spawn('bash', [file], { cwd: this.dir, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(this.redact(output));
        else reject(this.describe(block, signal === null ? `exited ${code}` : `killed (${signal})`, output));
      });
    });
  }

  /**
   * Starts a server block in the background, after stopping the running one of the same name, and resolves when it
   * prints `listening on`; rejects if it exits first or takes longer than `timeoutMs`.
   */
  async start(block: ShellBlock, timeoutMs = 90_000): Promise<void> {
    if (block.mode.kind !== 'server') throw new Error(`README.md:${block.line} is not a server block`);
    const name = block.mode.name;
    await this.stop(name);
    const file = this.script(block, false);
    const child = spawn('bash', [file], {
      cwd: this.dir,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const running: Background = { block, child, output: '' };
    this.background.set(name, running);
    const ready = new Promise<void>((resolve, reject) => {
      const look = (chunk: Buffer) => {
        running.output += chunk.toString('utf8');
        if (/listening on/.test(running.output)) resolve();
      };
      child.stdout!.on('data', look);
      child.stderr!.on('data', look);
      child.once('exit', (code, signal) =>
        reject(this.describe(block, `exited (${code ?? signal}) before listening`, running.output)),
      );
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(this.describe(block, `printed no "listening on" in ${timeoutMs / 1000}s`, running.output)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([ready, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** What a background block printed so far (redacted). */
  output(name: string): string {
    return this.redact(this.background.get(name)?.output ?? '');
  }

  /** SIGTERM to the whole process group (bash and what it started), then waits until none of it is left. */
  async stop(name: string): Promise<void> {
    const running = this.background.get(name);
    if (running === undefined) return;
    this.background.delete(name);
    const pid = running.child.pid!;
    if (!groupAlive(pid)) return;
    process.kill(-pid, 'SIGTERM');
    const deadline = Date.now() + 30_000;
    while (groupAlive(pid)) {
      if (Date.now() > deadline) {
        process.kill(-pid, 'SIGKILL');
        break;
      }
      await sleep(50);
    }
  }

  /** Stops every background block, the last started first, and removes the session's files. */
  async close(): Promise<void> {
    for (const name of [...this.background.keys()].reverse()) await this.stop(name);
    rmSync(this.dir, { recursive: true, force: true });
    rmSync(this.internal, { recursive: true, force: true });
  }
}

/** The commands of `tools` that bash cannot find: a block calling one fails obscurely, this says which. */
export function missingTools(tools: readonly string[]): string[] {
  return tools.filter((tool) => spawnSync('bash', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0);
}

/** Runs `blocks` in order in one session; a block after a failed one fails naming it. */
export function runBlocksInOrder(selected: readonly ShellBlock[], session: () => ReadmeSession): void {
  let failed: ShellBlock | undefined;
  for (const block of selected) {
    const what = block.mode.kind === 'server' ? `starts ${block.mode.name}` : 'runs';
    // Synthesis bundles every function (about 25 s on a small machine): give it room beside the other suites.
    const timeout = block.code.includes('cdk synth') ? 240_000 : 120_000;
    it(`README.md:${block.line} ${what} (${block.heading})`, { timeout }, async () => {
      if (failed !== undefined) throw new Error(`not run: README.md:${failed.line} (${failed.heading}) failed`);
      try {
        if (block.mode.kind === 'server') await session().start(block);
        else await session().run(block, timeout - 10_000);
      } catch (err) {
        failed = block;
        throw err;
      }
    });
  }
}
