import { randomInt } from 'node:crypto';
import http from 'node:http';
import type { SoakCampaign, SoakContext, SoakResult, SoakScale } from '../campaign.ts';
import { type Fixture, startFixture } from '../malformed/fixture.ts';
import { inputHash, Rng } from '../malformed/prng.ts';
import { fileHasCanary, findCanary, send } from '../malformed/send.ts';
import { SURFACES, type Surface } from '../malformed/surfaces.ts';

/**
 * Malformed requests against the four surfaces of a real local node (native API, Secrets Manager JSON 1.1, auth
 * logins, the Lambda extension's port), each built by structure-aware mutation of a valid request from a seeded PRNG.
 * Every answer must be below 500 and carry no canary; the server and extension must stay up and answer a valid
 * request throughout; at the end no log line or audit record holds a canary and the audit chain verifies.
 *
 * Reproducing a failure: it prints `seed`, the surface and the index; `Rng.forRequest(seed, surface, index)` fed to
 * that surface's `build` makes the same request again (the hash printed beside it confirms the bytes). Set
 * `COFFER_SOAK_SEED` to rerun a whole campaign with one seed.
 */

/** Requests per surface, and the wall-clock budget the surfaces share (the campaign must also end by the deadline). */
const PLAN: Record<SoakScale, { perSurface: number; budgetMs: number }> = {
  ci: { perSurface: 1_000, budgetMs: 200_000 },
  default: { perSurface: 100_000, budgetMs: 210_000 },
  long: { perSurface: 100_000, budgetMs: Number.POSITIVE_INFINITY },
};

/** Sockets per surface: enough to keep the server busy on two cores, few enough that the client does not starve it. */
const CONCURRENCY = 6;
const LIVENESS_EVERY_MS = 2_000;
const MAX_REPORTED = 50;

/**
 * The one 5xx an answer may carry: the extension's `501 UnsupportedOperation` for the Parameter Store path, which
 * Coffer deliberately does not serve (it is AWS's path, answered as "not implemented", not a failure of ours).
 */
function allowedServerError(surface: string, path: string, status: number): boolean {
  return surface === 'extension' && status === 501 && path.startsWith('/systemsmanager/parameters/get');
}

interface Tally {
  counts: Record<string, number>;
  failures: string[];
}

function bump(tally: Tally, key: string, by = 1): void {
  tally.counts[key] = (tally.counts[key] ?? 0) + by;
}

function fail(tally: Tally, line: string): void {
  bump(tally, 'failures');
  if (tally.failures.length < MAX_REPORTED) tally.failures.push(line);
}

/** Printable, canary-free excerpt of an answer. */
function excerpt(body: Buffer, fx: Fixture): string {
  let text = body.subarray(0, 300).toString('utf8');
  for (const value of Object.values(fx.canaries)) text = text.split(value).join('<canary>');
  return text.replace(/\s+/g, ' ');
}

async function runSurface(
  surface: Surface,
  fx: Fixture,
  seed: number,
  target: number,
  stopAt: number,
  tally: Tally,
  stopped: () => boolean,
): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let next = 0;
  const worker = async () => {
    while (next < target && Date.now() < stopAt && !stopped()) {
      const index = next++;
      const request = await surface.build(Rng.forRequest(seed, surface.name, index), fx);
      const url = request.target === 'server' ? fx.serverUrl : fx.extensionUrl;
      const outcome = await send(agent, url, request);
      const where = () =>
        `${surface.name} seed=${seed} index=${index} hash=${inputHash(request.method, request.path, JSON.stringify(request.headers), request.body)} ${request.method} ${request.path.slice(0, 120)} how=${request.how}`;
      if ('error' in outcome) {
        if (outcome.error.startsWith('unsendable')) {
          bump(tally, `${surface.name}.unsendable`);
          continue;
        }
        bump(tally, `${surface.name}.requests`);
        // A body over the cap is answered 413, and a body sent with a method the route does not take (TRACE, say) is
        // answered 405, without reading it: the server then closes the connection, possibly before the client has
        // written the rest, and the client sees a reset instead of the answer. The server staying up is checked apart.
        const unreadBody =
          request.how.includes('huge') ||
          (request.body !== undefined &&
            (request.how.includes('method') || !['POST', 'PUT', 'PATCH', 'DELETE'].includes(request.method)));
        if (unreadBody && /EPIPE|ECONNRESET/.test(outcome.error)) {
          bump(tally, `${surface.name}.cut-off`);
          continue;
        }
        bump(tally, `${surface.name}.no-answer`);
        fail(tally, `no answer (${outcome.error}): ${where()}`);
        continue;
      }
      const { status, rawHeaders, body } = outcome.answer;
      bump(tally, `${surface.name}.requests`);
      if (outcome.retried === true) bump(tally, `${surface.name}.keep-alive-resends`);
      bump(tally, `${surface.name}.${Math.floor(status / 100)}xx`);
      if (status >= 500 && !allowedServerError(surface.name, request.path, status)) {
        fail(tally, `${status}: ${where()} -> ${excerpt(body, fx)}`);
      }
      const leaked = findCanary(body, fx.canaries) ?? findCanary(rawHeaders, fx.canaries);
      if (leaked !== undefined) {
        bump(tally, `${surface.name}.canary-leaks`);
        fail(tally, `canary ${leaked} in the answer (${status}): ${where()}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  } finally {
    agent.destroy();
  }
}

/** A valid request to each listener, and both processes still running. */
async function liveness(fx: Fixture): Promise<string | undefined> {
  if (fx.server.child.exitCode !== null || fx.server.child.signalCode !== null) {
    return `the server exited (${fx.server.child.exitCode ?? fx.server.child.signalCode})`;
  }
  if (!fx.extensionAlive()) return 'the extension exited';
  try {
    const health = await fetch(`${fx.server.address}/v1/sys/health`, { signal: AbortSignal.timeout(30_000) });
    if (health.status !== 200) return `health answered ${health.status}`;
    await health.arrayBuffer();
    const read = await fetch(`${fx.extensionUrl.origin}/secretsmanager/get?secretId=fuzz/deep/c&refreshNow=true`, {
      headers: { 'x-aws-parameters-secrets-token': fx.sessionToken },
      signal: AbortSignal.timeout(30_000),
    });
    const text = await read.text();
    if (read.status !== 200 || !text.includes('value-of-fuzz/deep/c')) return `a valid read answered ${read.status}`;
  } catch (err) {
    return `a valid request failed: ${(err as Error).message}`;
  }
  return undefined;
}

export async function runMalformedInput(
  ctx: SoakContext,
  seed = defaultSeed(),
  surfaces: readonly Surface[] = SURFACES,
): Promise<SoakResult> {
  const plan = PLAN[ctx.scale];
  const started = Date.now();
  const stopAt = Math.min(ctx.deadline - 30_000, started + plan.budgetMs);
  const tally: Tally = { counts: { seed }, failures: [] };
  ctx.log(`malformed-input: seed=${seed} scale=${ctx.scale} target=${plan.perSurface}/surface`);
  const fx = await startFixture(ctx.log);
  let dead: string | undefined;
  let checks = 0;
  const ticker = setInterval(() => {
    void liveness(fx).then((problem) => {
      checks++;
      if (problem !== undefined && dead === undefined) dead = problem;
    });
  }, LIVENESS_EVERY_MS);
  const progress = setInterval(() => {
    const done = surfaces.map((s) => `${s.name}=${tally.counts[`${s.name}.requests`] ?? 0}`).join(' ');
    ctx.log(`malformed-input: ${Math.round((Date.now() - started) / 1000)}s ${done}`);
  }, 15_000);
  try {
    await Promise.all(
      surfaces.map((surface) =>
        runSurface(surface, fx, seed, plan.perSurface, stopAt, tally, () => dead !== undefined),
      ),
    );
    clearInterval(ticker);
    const last = await liveness(fx);
    bump(tally, 'liveness-checks', checks + 1);
    if (dead !== undefined) fail(tally, `liveness: ${dead}`);
    if (last !== undefined) fail(tally, `liveness at the end: ${last}`);

    const logLeak = findCanary(fx.serverLogSinceStart(), fx.canaries);
    if (logLeak !== undefined) fail(tally, `canary ${logLeak} in the server's output`);
    const extLeak = findCanary(fx.extensionOutput(), fx.canaries);
    if (extLeak !== undefined) fail(tally, `canary ${extLeak} in the extension's output`);
    for (const file of fx.auditFiles()) {
      const auditLeak = await fileHasCanary(file, fx.canaries);
      if (auditLeak !== undefined) fail(tally, `canary ${auditLeak.name} in the audit log: ${auditLeak.line}`);
    }
    const verified = await fetch(`${fx.server.address}/v1/sys/audit/verify`, {
      headers: { 'x-coffer-token': fx.server.rootToken },
    });
    const verdict = (await verified.json()) as { ok?: boolean; records?: number };
    if (verified.status !== 200 || verdict.ok !== true) {
      fail(tally, `the audit chain does not verify (${verified.status}): ${JSON.stringify(verdict).slice(0, 300)}`);
    } else bump(tally, 'audit-records-verified', verdict.records ?? 0);
  } finally {
    clearInterval(ticker);
    clearInterval(progress);
    await fx.close();
  }
  const seconds = (Date.now() - started) / 1000;
  tally.counts.seconds = Math.round(seconds);
  for (const s of surfaces) {
    const n = tally.counts[`${s.name}.requests`] ?? 0;
    ctx.log(`malformed-input: ${s.name} ${n} requests (${Math.round(n / seconds)}/s)`);
  }
  return tally;
}

function defaultSeed(): number {
  const fromEnv = process.env.COFFER_SOAK_SEED;
  return fromEnv !== undefined && /^\d+$/.test(fromEnv) ? Number(fromEnv) >>> 0 : randomInt(0, 2 ** 31);
}

export const campaign: SoakCampaign = {
  name: 'malformed-input',
  title: 'Malformed requests on four API surfaces: no 5xx, no crash, no canary leak, audit chain intact',
  run: (ctx) => runMalformedInput(ctx),
};
