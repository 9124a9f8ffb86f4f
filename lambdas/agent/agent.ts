import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { compareFile, setFileMode, writeFileAtomic } from './atomic-file.ts';
import { AutoAuth, type TokenSource } from './auto-auth.ts';
import { childEnvironment, exitStatus, forwardSignals } from './child-process.ts';
import type { AgentConfig, TemplateConfig } from './config.ts';
import { readEnvFile } from './dotenv.ts';
import { ExecSupervisor } from './exec-supervisor.ts';
import { CliError, ExitCode } from './exit-codes.ts';
import { describeRef, type SecretRef, selectField, versionKey } from './secret-ref.ts';
import { type ApiCall, type FetchedSecret, SecretSource } from './secret-source.ts';
import { type CompiledTemplate, compileTemplate, renderTemplate } from './template.ts';

export interface AgentOptions {
  readonly config: AgentConfig;
  /** The server, for the cache sidecar's client. */
  readonly address: string;
  readonly token: TokenSource;
  /** An API client sending `token`. */
  readonly api: (token: string | undefined) => ApiCall;
  /** Render once, run the commands of changed templates, and exit. */
  readonly once: boolean;
  readonly log: (message: string) => void;
  /** The agent's environment: what `{{ env }}` reads and what children inherit (minus COFFER_TOKEN). */
  readonly env: NodeJS.ProcessEnv;
}

interface LoadedTemplate {
  readonly config: TemplateConfig;
  /** How errors name it: its source file, or `templates[i]` when it is inline. */
  readonly label: string;
  readonly compiled: CompiledTemplate;
  readonly keys: ReadonlySet<string>;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The agent: authenticates, renders templates to files, optionally supervises one child with secrets in its
 * environment, and keeps all of it current by polling secret versions.
 *
 * Every poll asks for each referenced secret's version at its stage (a metadata read, nothing decrypted); values
 * are fetched only for versions that moved, templates are rendered only when one of their secrets moved, and a
 * file is written (and its command run, or signal sent) only when its rendered content differs from what is there.
 * A file that could not be written (a read-only mount, a file where its directory should be) keeps its last good
 * content and is tried again at every poll until it is written.
 *
 * @returns the exit status: 0, the exec child's status, or 1 if a `--once` command failed.
 * @throws CliError if the first authentication, fetch, render or write fails (later failures are logged and retried).
 */
export async function runAgent(options: AgentOptions): Promise<number> {
  const { config, log } = options;
  const templates = await loadTemplates(config.templates);
  const { execBindings, execPlain } = await loadExecEnv(config);
  const refs = new Map<string, SecretRef>();
  for (const t of templates) for (const ref of t.compiled.secrets) refs.set(versionKey(ref), ref);
  for (const ref of Object.values(execBindings)) refs.set(versionKey(ref), ref);
  const execKeys = new Set(Object.values(execBindings).map(versionKey));

  // Lifecycle. Signal handlers are installed before anything else, so a signal during start-up (a SIGHUP sent when
  // the first render signals a process group, a SIGTERM from a supervisor) never kills the agent mid-write.
  let stopping = false;
  let pollNow = false;
  let wake: () => void = () => undefined;
  let finish: (status: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => {
    finish = (status) => {
      stopping = true;
      wake();
      resolve(status);
    };
  });
  const supervisor =
    config.exec === undefined
      ? undefined
      : new ExecSupervisor({
          command: config.exec.command,
          stopSignal: config.exec.restart_stop_signal,
          killTimeoutMs: config.exec.restart_kill_timeout,
          log,
          onExit: (status) => {
            log(`the child exited with status ${status}`);
            finish(status);
          },
        });
  const stopForwarding = forwardSignals(
    () => supervisor?.process(),
    (signal) => {
      const stops = signal === 'SIGINT' || signal === 'SIGTERM' || signal === 'SIGQUIT';
      if (stops && supervisor !== undefined) {
        // Forwarded to the child; the agent exits with it (or now, if it is not running).
        stopping = true;
        supervisor.shutdown(signal);
      } else if (stops) {
        log(`${signal}: stopping`);
        finish(ExitCode.ok);
      } else if (signal === 'SIGHUP' && supervisor === undefined) {
        pollNow = true;
        wake();
      }
      // A renewed certificate of the cache's listener, for new connections (open ones keep theirs).
      if (signal === 'SIGHUP') void reloadCacheTls();
    },
  );

  /** Templates whose last write failed: retried at each poll even if none of their secrets moved. */
  const unwritten = new Set<LoadedTemplate>();

  const auth = new AutoAuth({ source: options.token, api: options.api, log, sink: config.sink });
  const source = new SecretSource(() => options.api(auth.token()));
  const secrets = new Map<string, FetchedSecret>();

  /** Brings `secrets` up to date; returns the keys whose version changed. Keys that fail keep their old value. */
  const refresh = async (): Promise<Set<string>> => {
    const changed = new Set<string>();
    const results = await Promise.allSettled(
      [...refs].map(async ([key, ref]) => {
        const versionId = await source.currentVersion(ref.name, ref.stage);
        if (secrets.get(key)?.versionId === versionId) return;
        secrets.set(key, await source.read(ref.name, { versionId }));
        changed.add(key);
      }),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return changed;
  };

  const selected = (ref: SecretRef): string => {
    const fetched = secrets.get(versionKey(ref));
    if (fetched === undefined) throw new CliError(`secret ${describeRef(ref)} was not fetched`, ExitCode.failure);
    return selectField(ref, fetched.value);
  };

  /** Renders the templates that read any of `changed` (all if undefined); false if a command failed. */
  const render = async (changed: ReadonlySet<string> | undefined, strict: boolean): Promise<boolean> => {
    let ok = true;
    for (const t of templates) {
      if (changed !== undefined && !unwritten.has(t) && ![...t.keys].some((key) => changed.has(key))) continue;
      let content: string;
      try {
        content = renderTemplate(t.compiled, { secret: selected, env: (name) => options.env[name] });
      } catch (err) {
        if (strict) throw err;
        // Rendering again gives the same error until a secret moves; the next render follows that move.
        unwritten.delete(t);
        log(`cannot render ${t.config.destination}, keeping the old file: ${message(err)}`);
        continue;
      }
      let written: boolean;
      try {
        written = await writeIfChanged(t.config.destination, content, t.config.perms);
      } catch (err) {
        const failure = new CliError(`template ${t.label}: ${message(err)}`, ExitCode.failure);
        if (strict) throw failure;
        unwritten.add(t);
        log(`${failure.message}; keeping the last good file, trying again at the next poll`);
        continue;
      }
      unwritten.delete(t);
      if (!written) continue;
      log(`rendered ${t.config.destination}`);
      if (t.config.command !== undefined) {
        const command = { argv: t.config.command, timeoutMs: t.config.command_timeout, cwd: config.directory };
        ok = (await runCommand(command, options.env, log)) && ok;
      }
      if (t.config.signal !== undefined) await sendSignal(t.config.signal, log);
    }
    return ok;
  };

  const execEnv = (): NodeJS.ProcessEnv => {
    const injected: Record<string, string> = { ...execPlain };
    for (const [variable, ref] of Object.entries(execBindings)) injected[variable] = selected(ref);
    return childEnvironment(options.env, injected);
  };

  /** One poll: new token file, version checks, renders, and a restart of the child if its secrets moved. */
  const poll = async (): Promise<void> => {
    await auth.reloadIfChanged();
    let changed: Set<string>;
    try {
      changed = await refresh();
    } catch (err) {
      log(`poll failed, keeping the last values: ${message(err)}`);
      // A token the server no longer accepts (expired early, revoked): log in again and poll again at once.
      if (err instanceof CliError && err.exitCode === ExitCode.denied && (await auth.tokenRejected())) pollNow = true;
      return;
    }
    if (changed.size === 0 && unwritten.size === 0) return;
    try {
      await render(changed, false);
    } catch (err) {
      // render() logs what it expects; anything else must not end a long-running agent either.
      log(`rendering failed: ${message(err)}`);
    }
    const restart = config.exec?.restart_on_secret_changes === 'always' && [...changed].some((k) => execKeys.has(k));
    if (supervisor === undefined || !restart || stopping) return;
    let env: NodeJS.ProcessEnv;
    try {
      env = execEnv();
    } catch (err) {
      log(`not restarting the child: ${message(err)}`);
      return;
    }
    await supervisor.restart(env);
  };

  let cache: import('./cache-sidecar.ts').CacheSidecar | undefined;
  const cacheTls = async () => {
    const listener = config.cache;
    if (listener?.tls_cert === undefined || listener.tls_key === undefined) return undefined;
    return {
      cert: await readPemFile(listener.tls_cert, 'cache.tls_cert'),
      key: await readPemFile(listener.tls_key, 'cache.tls_key'),
      minVersion: listener.tls_min_version === '1.2' ? ('TLSv1.2' as const) : ('TLSv1.3' as const),
    };
  };
  async function reloadCacheTls(): Promise<void> {
    if (cache === undefined || config.cache?.tls_cert === undefined) return;
    try {
      const tls = await cacheTls();
      if (tls !== undefined) cache.reloadTls(tls);
      log('SIGHUP: the cache serves the certificate from cache.tls_cert again');
    } catch (err) {
      // The pair in use stays: a half-written renewal must not take the listener down.
      log(
        `SIGHUP: cannot reload the cache's certificate, keeping the current one: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  try {
    await auth.start(!options.once);
    await refresh();
    const commandsOk = await render(undefined, true);
    if (options.once) return commandsOk ? ExitCode.ok : ExitCode.failure;
    if (config.cache !== undefined) {
      // Loaded only when asked for: templates and exec need neither the SDK nor the extension.
      const { startCacheSidecar } = await import('./cache-sidecar.ts');
      const callerToken = options.env.AWS_SESSION_TOKEN === '' ? undefined : options.env.AWS_SESSION_TOKEN;
      const caFile = options.env.COFFER_CACERT === '' ? undefined : options.env.COFFER_CACERT;
      const sidecar = await startCacheSidecar({
        ...(caFile === undefined ? {} : { caCert: await readPemFile(caFile, 'COFFER_CACERT') }),
        tls: await cacheTls(),
        address: options.address,
        port: config.cache.port,
        host: config.cache.host,
        allowedHosts: config.cache.allowed_hosts,
        token: () => auth.token(),
        callerToken,
      });
      cache = sidecar;
      log(`secrets cache listening on ${sidecar.address}`);
      if (callerToken === undefined) {
        log('AWS_SESSION_TOKEN is unset: every process that can reach the cache port can read through it');
      }
    }
    if (supervisor !== undefined && !stopping) supervisor.start(execEnv());
    if (stopping && supervisor === undefined) finish(ExitCode.ok);
    while (!stopping) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, config.poll_interval);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        if (pollNow || stopping) wake();
      });
      pollNow = false;
      if (!stopping) await poll();
    }
    return await finished;
  } finally {
    stopForwarding();
    auth.stop();
    await cache?.close();
  }
}

/** The exec child's variables: `exec.env`, and `exec.env_file`'s secrets and plain values. */
async function loadExecEnv(
  config: AgentConfig,
): Promise<{ execBindings: Record<string, SecretRef>; execPlain: Record<string, string> }> {
  const env = config.exec?.env ?? {};
  if (config.exec?.env_file === undefined) return { execBindings: env, execPlain: {} };
  const file = await readEnvFile(config.exec.env_file);
  for (const variable of [...file.secrets.keys(), ...file.plain.keys()]) {
    if (Object.hasOwn(env, variable)) {
      throw new CliError(`${variable} is in both exec.env and exec.env_file`, ExitCode.usage);
    }
  }
  return { execBindings: { ...Object.fromEntries(file.secrets), ...env }, execPlain: Object.fromEntries(file.plain) };
}

async function loadTemplates(configs: readonly TemplateConfig[]): Promise<LoadedTemplate[]> {
  return Promise.all(
    configs.map(async (config, index) => {
      let text = config.contents;
      if (config.source !== undefined) {
        text = await readFile(config.source, 'utf8').catch((err: NodeJS.ErrnoException) => {
          throw new CliError(`cannot read template ${config.source}: ${err.code ?? 'error'}`, ExitCode.usage);
        });
      }
      const label = config.source ?? `templates[${index}]`;
      const compiled = compileTemplate(text ?? '', label);
      return { config, label, compiled, keys: new Set(compiled.secrets.map(versionKey)) };
    }),
  );
}

/**
 * Writes `content` unless `destination` already holds it; fixes only the mode when that alone differs.
 * @returns whether the content was written (what runs the template's command and sends its signal).
 * @throws DestinationWriteError naming `destination`; its last good content is kept.
 */
async function writeIfChanged(destination: string, content: string, mode: number): Promise<boolean> {
  const state = await compareFile(destination, content, mode);
  if (state === 'same') return false;
  if (state === 'mode') {
    await setFileMode(destination, mode);
    return false;
  }
  await writeFileAtomic(destination, content, mode);
  return true;
}

/**
 * Runs a template's command (argv, no shell) in `cwd`, the config file's directory, so a relative program or
 * argument resolves as the config's relative paths do; its output goes to ours. False if it failed or timed out.
 */
function runCommand(
  command: { readonly argv: readonly string[]; readonly timeoutMs: number; readonly cwd: string },
  env: NodeJS.ProcessEnv,
  log: (message: string) => void,
): Promise<boolean> {
  const { argv, timeoutMs, cwd } = command;
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd,
      env: childEnvironment(env, {}),
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const timer = setTimeout(() => {
      log(`command ${argv[0]} timed out after ${timeoutMs} ms: SIGKILL`);
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      log(`cannot run ${argv[0]}: ${err.code ?? err.message}`);
      resolve(false);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const status = exitStatus(code, signal);
      if (status !== 0) log(`command ${argv[0]} exited with status ${status}`);
      resolve(status === 0);
    });
  });
}

async function sendSignal(
  signal: { name: NodeJS.Signals; pid_file: string },
  log: (message: string) => void,
): Promise<void> {
  try {
    const text = (await readFile(signal.pid_file, 'utf8')).trim();
    if (!/^[1-9]\d*$/.test(text)) throw new Error(`${signal.pid_file} does not hold a process id`);
    process.kill(Number(text), signal.name);
    log(`sent ${signal.name} to process ${text}`);
  } catch (err) {
    log(`cannot send ${signal.name}: ${message(err)}`);
  }
}

/** The cache's PEM files (COFFER_CACERT, its certificate and key): an unreadable one stops the start, naming it. */
async function readPemFile(file: string, setting: string): Promise<Buffer> {
  return readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`cannot read ${setting} ${file}: ${err.code ?? 'error'}`, ExitCode.usage);
  });
}
