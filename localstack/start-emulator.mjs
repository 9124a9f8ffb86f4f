#!/usr/bin/env node
// Starts an AWS wire-protocol emulator on 127.0.0.1:4566 for the AWS adapter tests, unless one already answers
// there (LocalStack, or moto started by hand). Used by test/support/aws-global-setup.ts and runnable by hand:
//   node localstack/start-emulator.mjs        # foreground; Ctrl-C stops it
import { spawn } from 'node:child_process';

export const EMULATOR_HOST = '127.0.0.1';
export const EMULATOR_PORT = 4566;

export const HOW_TO_START =
  'No AWS emulator answers on http://127.0.0.1:4566 and moto could not be started. Either run LocalStack ' +
  '(see localstack/README.md), or install moto: pip install "moto[server]" (then python3 -m moto.server -H 127.0.0.1 -p 4566), ' +
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

/** Resolves to { endpoint, stop }. Never reaches real AWS: the endpoint is always local or explicitly configured. */
export async function startEmulator() {
  if (process.env.AWS_ENDPOINT_URL)
    return { endpoint: process.env.AWS_ENDPOINT_URL, started: false, stop: async () => {} };
  const endpoint = `http://${EMULATOR_HOST}:${EMULATOR_PORT}`;
  if (await answers(endpoint)) return { endpoint, started: false, stop: async () => {} };
  const child = spawn('python3', ['-m', 'moto.server', '-H', EMULATOR_HOST, '-p', String(EMULATOR_PORT)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c.toString()));
  let exited = false;
  child.once('exit', () => (exited = true));
  child.once('error', () => (exited = true));
  for (let i = 0; i < 150 && !exited; i++) {
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const emulator = await startEmulator();
  console.log(
    `AWS emulator at ${emulator.endpoint}${emulator.started ? ' (moto, started here)' : ' (already running)'}`,
  );
  if (emulator.started) {
    process.on('SIGINT', () => emulator.stop().then(() => process.exit(0)));
  }
}
