import http from 'node:http';

export interface OpenLoopOptions {
  readonly url: string;
  readonly rate: number;
  readonly durationMs: number;
  readonly headers?: Record<string, string>;
  /** @default 64 */
  readonly maxSockets?: number;
  /**
   * The request to send next, asked once per request: varied paths (random secrets, pages) or a POST body. The
   * request is still due at its slot, so choosing it costs the client, not the measured latency.
   * @default a GET of `url`
   */
  readonly next?: () => OpenLoopRequest;
}

/** One request of an open loop, on `url`'s host and port. */
export interface OpenLoopRequest {
  readonly path: string;
  /** @default 'GET' */
  readonly method?: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
}

export interface LatencySummary {
  readonly sent: number;
  readonly failed: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * Sends requests at a fixed rate regardless of how fast answers come (an open loop), and measures each latency from
 * the moment the request was due, so a stalled server cannot hide its queueing delay ("coordinated omission").
 * Resolution is microseconds (autocannon reports whole milliseconds, too coarse for sub-millisecond servers).
 */
export async function openLoop(options: OpenLoopOptions): Promise<LatencySummary> {
  const target = new URL(options.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64 });
  const latencies: number[] = [];
  let failed = 0;
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  const total = Math.floor((options.rate * options.durationMs) / 1000);
  let sent = 0;
  const fixed: OpenLoopRequest = { path: target.pathname + target.search };
  const fire = (due: number) =>
    new Promise<void>((resolve) => {
      const next = options.next?.() ?? fixed;
      const req = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: next.method ?? 'GET',
          path: next.path,
          headers: { ...options.headers, ...next.headers },
          agent,
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if ((res.statusCode ?? 500) >= 400) failed++;
            latencies.push(performance.now() - due);
            resolve();
          });
        },
      );
      req.on('error', () => {
        failed++;
        resolve();
      });
      req.end(next.body);
    });
  while (sent < total) {
    const now = performance.now();
    const dueCount = Math.min(total, Math.floor(((now - start) * options.rate) / 1000));
    while (sent < dueCount) {
      const due = start + (sent * 1000) / options.rate;
      inflight.push(fire(due));
      sent++;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(inflight);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return { sent, failed, p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? Number.NaN };
}
