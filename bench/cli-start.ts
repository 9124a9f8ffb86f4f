/**
 * How long a `coffer` call takes from exec to exit, beside `node -e 0` on the same machine in the same run: what a
 * user waits for at a prompt and what a CI script pays per call (issue 18: well under half a second).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { api, COFFER_BIN } from '../test/support/server-process.ts';
import { percentile, spawnListening } from './measure.ts';

const RUNS = Number(process.env.BENCH_CLI_RUNS ?? 20);

/** Wall time of `node <args>` from spawn to exit, `RUNS` times after one warm-up (the page cache), in ms. */
function wallTimes(args: readonly string[], env: NodeJS.ProcessEnv): number[] {
  const times: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const started = performance.now();
    const result = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const elapsed = performance.now() - started;
    if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
    if (i > 0) times.push(elapsed);
  }
  return times.sort((a, b) => a - b);
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-cli-'));
const server = await spawnListening([COFFER_BIN, 'server', '--data-dir', path.join(tmp, 'data'), '--port', '0'], {
  COFFER_TOKEN: '',
});
try {
  const token = readFileSync(path.join(tmp, 'data', 'root-token'), 'utf8').trim();
  await api(server.address, token, 'PUT', '/v1/secret/data/bench/cli', { value: 'x'.repeat(64) });
  const env = { ...process.env, COFFER_ADDR: server.address, COFFER_TOKEN: token };
  const rows: [string, number[]][] = [
    ['node -e 0', wallTimes(['-e', '0'], env)],
    ['coffer --version', wallTimes([COFFER_BIN, '--version'], env)],
    ['coffer secret get bench/cli', wallTimes([COFFER_BIN, 'secret', 'get', 'bench/cli'], env)],
  ];
  const baseline = percentile(rows[0]![1], 50);
  for (const [label, times] of rows) {
    const p50 = percentile(times, 50);
    console.log(
      `${label.padEnd(30)} p50 ${p50.toFixed(0).padStart(5)} ms   p90 ${percentile(times, 90).toFixed(0).padStart(5)} ms   ${(p50 / baseline).toFixed(1)}× node -e 0`,
    );
  }
  console.log(`(${RUNS} runs each; goal: coffer secret get well under 500 ms)`);
} finally {
  await server.stop();
  rmSync(tmp, { recursive: true, force: true });
}
