#!/usr/bin/env node
// Starts an AWS wire-protocol emulator for the AWS adapter tests, unless one is provided: AWS_ENDPOINT_URL, or
// something already answering on 127.0.0.1:4566 (LocalStack, or moto started by hand with this script). Used by
// test/support/aws-global-setup.ts and runnable by hand:
//   node localstack/start-emulator.mjs        # moto on 127.0.0.1:4566, in the foreground; Ctrl-C stops it
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

export const EMULATOR_HOST = '127.0.0.1';
/** Where a provided emulator is looked for (LocalStack's port). A test run never starts one here. */
export const EMULATOR_PORT = 4566;

export const HOW_TO_START =
  'No AWS emulator is provided (AWS_ENDPOINT_URL, or one answering on http://127.0.0.1:4566) and moto could not be ' +
  'started. Either run LocalStack (see localstack/README.md), or install moto: pip install "moto[server]", ' +
  'or set AWS_ENDPOINT_URL to a running emulator.';

export async function answers(endpoint) {
  try {
    const res = await fetch(endpoint, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

/** A loopback port nothing listens on right now (the kernel's choice, so concurrent runs get different ones). */
export function freeLoopbackPort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, EMULATOR_HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** moto on `port`; rejects when it exits before answering (the port was taken meanwhile, or moto is missing). */
async function spawnMoto(port) {
  const endpoint = `http://${EMULATOR_HOST}:${port}`;
  const child = spawn('python3', ['-m', 'moto.server', '-H', EMULATOR_HOST, '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c.toString()));
  let exited = false;
  child.once('exit', () => (exited = true));
  child.once('error', () => (exited = true));
  // moto gives no readiness signal but answering, and takes many seconds to import on a loaded machine.
  const deadline = Date.now() + 60_000;
  while (!exited && Date.now() < deadline) {
    if (await answers(endpoint)) {
      return {
        endpoint,
        started: true,
        stop: () =>
          new Promise((resolve) => {
            if (exited) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${HOW_TO_START}\n${stderr.slice(-2000)}`);
}

/**
 * Resolves to { endpoint, started, stop }. Never reaches real AWS: the endpoint is always local or explicitly
 * configured. `stop` stops only an emulator started here; a provided one is left running.
 *
 * @param {{ port?: number, provided?: boolean }} [options] `port`: where to start moto (default: a free loopback
 *   port, so two runs on one machine never share, and never stop, each other's emulator). `provided: false` ignores
 *   AWS_ENDPOINT_URL and 127.0.0.1:4566 and always starts one.
 */
export async function startEmulator({ port, provided = true } = {}) {
  if (provided) {
    if (process.env.AWS_ENDPOINT_URL)
      return { endpoint: process.env.AWS_ENDPOINT_URL, started: false, stop: async () => {} };
    const usual = `http://${EMULATOR_HOST}:${EMULATOR_PORT}`;
    if (await answers(usual)) return { endpoint: usual, started: false, stop: async () => {} };
  }
  if (port !== undefined) return spawnMoto(port);
  // Another process may take the chosen port before moto binds it: choose again.
  let failure;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await spawnMoto(await freeLoopbackPort());
    } catch (err) {
      failure = err;
    }
  }
  throw failure;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const emulator = await startEmulator({ port: EMULATOR_PORT });
  console.log(
    `AWS emulator at ${emulator.endpoint}${emulator.started ? ' (moto, started here)' : ' (already running)'}`,
  );
  if (emulator.started) {
    process.on('SIGINT', () => emulator.stop().then(() => process.exit(0)));
  }
}
