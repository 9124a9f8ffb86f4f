import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOOPBACK_EGRESS } from './egress.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const COFFER_BIN = path.join(ROOT, 'bin/coffer.mjs');

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly address: string;
  readonly dataDir: string;
  /** Empty for a node that joined a shared store another node initialised (docs/ha.md). */
  readonly rootToken: string;
  /** Everything the server printed so far. */
  output(): string;
  /** Graceful stop (SIGTERM) and wait for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function tempDir(prefix = 'coffer-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts `coffer server` as a real child process on an ephemeral loopback port. */
export async function startServer(dataDir: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [COFFER_BIN, 'server', '--data-dir', dataDir, '--port', '0'], {
    // The tests' PostgreSQL, key service and listeners are on loopback: the node may reach them, as a user would allow.
    env: { ...process.env, COFFER_TOKEN: '', COFFER_PASSPHRASE: '', COFFER_EGRESS_ALLOW: LOOPBACK_EGRESS, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // The address is in the output as soon as the server listens: look at each chunk as it arrives.
  const address = await new Promise<string>((resolve, reject) => {
    const look = () => {
      const match = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (match === null) return;
      child.stdout!.off('data', look);
      child.stderr!.off('data', look);
      resolve(match[1]!);
    };
    child.stdout!.on('data', look);
    child.stderr!.on('data', look);
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening:\n${out}`)));
  });
  // A node that joined a shared store (docs/ha.md) has no root token of its own: the one that initialised it has.
  const rootTokenFile = path.join(dataDir, 'root-token');
  const rootToken = existsSync(rootTokenFile) ? readFileSync(rootTokenFile, 'utf8').trim() : '';
  return {
    child,
    address,
    dataDir,
    rootToken,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the real `coffer` CLI; `input` is piped to stdin (stdin is closed either way). `command` runs instead of
 * `coffer args` (a wrapper such as script(1) that runs the CLI itself).
 */
export function runCli(
  args: readonly string[],
  options: { env?: Record<string, string>; input?: string | Buffer; cwd?: string; command?: readonly string[] } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [file, ...argv] = options.command ?? [process.execPath, COFFER_BIN, ...args];
    const child = spawn(file!, argv, {
      env: { ...process.env, ...options.env },
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** A small JSON client for the native API. */
export async function api(
  address: string,
  token: string | undefined,
  method: string,
  urlPath: string,
  body?: unknown,
): Promise<{
  status: number;
  requestId: string | null;
  body: Record<string, unknown> & { error?: { code: string; message: string } };
}> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers['x-coffer-token'] = token;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${address}${urlPath}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    requestId: res.headers.get('x-request-id'),
    body: text.length === 0 ? {} : JSON.parse(text),
  };
}
