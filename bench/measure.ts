import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Shared by the bench suites: closed-loop rates and percentiles, and spawning a server until it listens. */
export interface Rate {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  count: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Runs `fn` `count` times with `concurrency` in flight; per-call latency and overall rate. */
export async function measure(count: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<Rate> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        await fn(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: count / elapsed, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), count };
}

/** Spawns `node <args>` and resolves with the address of its `listening on http://…` line. */
export async function spawnListening(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; address: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (m) {
        clearInterval(timer);
        resolve(m[1]!);
      }
    }, 20);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`${args.join(' ')} exited ${code}: ${out}`));
    });
  });
  return {
    child,
    address,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Runs each of `runs` once per round, in turn, for `rounds` rounds, and keeps each one's median round by rate: a
 * figure and its baseline then see the same share of a busy machine's bursts (other processes, GC of the client).
 */
export async function interleaved<K extends string>(
  rounds: number,
  runs: Record<K, () => Promise<Rate>>,
): Promise<Record<K, Rate>> {
  const results = {} as Record<K, Rate[]>;
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of Object.entries(runs) as [K, () => Promise<Rate>][]) {
      const rates = results[name] ?? [];
      rates.push(await run());
      results[name] = rates;
    }
  }
  const median = {} as Record<K, Rate>;
  for (const [name, rates] of Object.entries(results) as [K, Rate[]][]) {
    const sorted = [...rates].sort((a, b) => a.perSecond - b.perSecond);
    median[name] = sorted[Math.floor(sorted.length / 2)]!;
  }
  return median;
}

/**
 * CPU time (user + system) a process has used, in microseconds, from /proc (Linux). Per request it is steadier than
 * throughput on a shared machine: other processes take wall time from a server, not CPU time.
 */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th, in clock ticks (100/s).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}
