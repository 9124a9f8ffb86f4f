import { randomBytes, randomInt } from 'node:crypto';
import type { ServerProcess } from '../../support/server-process.ts';
import { tempDir } from '../../support/server-process.ts';
import type { SoakCampaign, SoakContext, SoakResult, SoakScale } from '../campaign.ts';
import {
  auditVerifiesOffline,
  auditVerifiesOnline,
  call,
  dataDirIn,
  type Reply,
  sleep,
  startSoakServer,
  storeIntegrity,
} from '../node.ts';

/**
 * SIGKILL cycles of the real local server under 8 concurrent workers that write, read, rotate and create/revoke
 * token leases. After every restart: every acknowledged write reads back with its value (or with the value of a
 * write that was in flight at the kill, which may or may not have committed), the audit chain verifies, every
 * rotation settles with no AWSPENDING left behind, every acknowledged token is live and every acknowledged revocation
 * holds, and SQLite's integrity check passes.
 */

/** Cycles to run at each scale; `default` stops earlier if its share of the 10 minutes runs out. */
const TARGET: Record<SoakScale, number> = { ci: 25, default: 1_000, long: 1_000 };
/** Fewer completed cycles than this is a failure (the default scale records how many fit instead). */
const MINIMUM: Record<SoakScale, number> = { ci: 25, default: 20, long: 1_000 };
const WORKERS = 8;
const NAMES_PER_WORKER = 16;
const ROTATED = ['soak/rot-0', 'soak/rot-1', 'soak/rot-2', 'soak/rot-3'];
/** The longest a worker's load runs before the kill; the kill lands at a random moment inside it. */
const MAX_LOAD_MS = 400;
/** How long a rotation interrupted by a kill may take to be resumed and settle after the restart. */
const SETTLE_MS = 30_000;
/** Live tokens a worker keeps; beyond it, its next token operation revokes one. */
const TOKENS_KEPT_LIVE = 1;

/** One secret's durable state as the client knows it: the last acknowledged value and values possibly committed. */
interface Written {
  acked: string | undefined;
  maybe: Set<string>;
}

interface Tokens {
  live: Set<string>;
  revoked: string[];
  /** Created or revoked when the server died: either outcome is right; the check learns which. */
  maybe: Set<string>;
}

class KillCycles {
  readonly counts = {
    cycles: 0,
    acknowledgedWrites: 0,
    readsChecked: 0,
    inFlightAtKill: 0,
    rotationsStarted: 0,
    rotationsSettled: 0,
    tokensCreated: 0,
    tokensRevoked: 0,
    tokenChecks: 0,
    auditVerifies: 0,
    integrityChecks: 0,
  };
  readonly failures: string[] = [];
  readonly written = new Map<string, Written>();
  readonly tokens: Tokens[] = Array.from({ length: WORKERS }, () => ({
    live: new Set(),
    revoked: [],
    maybe: new Set(),
  }));
  private seq = 0;

  constructor(
    private readonly ctx: SoakContext,
    private readonly dataDir: string,
  ) {}

  fail(message: string): void {
    this.failures.push(`cycle ${this.counts.cycles}: ${message}`);
    this.ctx.log(`FAILURE ${message}`);
  }

  /** A 5xx from a live server is a failure in its own right; connection errors are the kill and are expected. */
  private answered(op: string, reply: Reply): Reply {
    if (reply.status >= 500) {
      const error = reply.body.error as { code?: string } | undefined;
      this.fail(`${op} answered ${reply.status} ${error?.code ?? ''}`);
    }
    return reply;
  }

  /** The first start: rotation configs on four secrets and one clean rotation each. */
  async prepare(server: ServerProcess): Promise<void> {
    for (const name of ROTATED) {
      const put = await call(server.address, server.rootToken, 'PUT', `/v1/secret/data/${name}`, {
        value: JSON.stringify({ keyId: 'none', apiKey: 'none' }),
      });
      if (put.status >= 300) throw new Error(`seeding ${name}: ${put.status}`);
      const config = await call(server.address, server.rootToken, 'PUT', `/v1/rotation/configs/${name}`, {
        type: 'api-key-coffer',
        settings: { overlapSeconds: 3600 },
      });
      if (config.status !== 200) throw new Error(`rotation config of ${name}: ${config.status}`);
      const started = await call(server.address, server.rootToken, 'POST', '/v1/rotation/rotate', { secretId: name });
      if (started.status !== 202) throw new Error(`first rotation of ${name}: ${started.status}`);
    }
    await this.settleRotations(server);
  }

  /** Eight workers until the server dies under them. */
  load(server: ServerProcess): Promise<void>[] {
    return Array.from({ length: WORKERS }, (_, worker) => this.worker(server, worker));
  }

  private async worker(server: ServerProcess, worker: number): Promise<void> {
    const { address, rootToken } = server;
    for (;;) {
      const roll = Math.random();
      const name = `soak/w${worker}/k${randomInt(NAMES_PER_WORKER)}`;
      try {
        if (roll < 0.5) {
          // The worker is the only writer of its names and writes one at a time, so a name has at most one write in
          // flight when the kill lands.
          const value = `w${worker}-s${this.seq++}-${randomBytes(6).toString('hex')}`;
          const state = this.written.get(name) ?? { acked: undefined, maybe: new Set<string>() };
          this.written.set(name, state);
          state.maybe.add(value);
          const res = this.answered(
            'write',
            await call(address, rootToken, 'PUT', `/v1/secret/data/${name}`, { value }),
          );
          if (res.status === 200) {
            state.acked = value;
            state.maybe.clear();
            this.counts.acknowledgedWrites++;
          } else {
            state.maybe.delete(value);
            if (res.status < 500) this.fail(`write answered ${res.status}`);
          }
        } else if (roll < 0.75) {
          const state = this.written.get(name);
          if (state === undefined || state.maybe.size > 0) continue;
          const res = this.answered('read', await call(address, rootToken, 'GET', `/v1/secret/data/${name}`));
          const expected = state.acked === undefined ? 404 : 200;
          if (res.status !== expected || (res.status === 200 && res.body.value !== state.acked)) {
            this.fail(`live read of ${name}: ${res.status}, not the acknowledged value`);
          }
          this.counts.readsChecked++;
        } else if (roll < 0.82) {
          const secretId = ROTATED[worker % ROTATED.length]!;
          const res = this.answered(
            'rotate',
            await call(address, rootToken, 'POST', '/v1/rotation/rotate', { secretId }),
          );
          // 409: a rotation of that secret is already running, which another worker or the resumed one may be.
          if (res.status === 202 || res.status === 200) this.counts.rotationsStarted++;
          else if (res.status !== 409) this.fail(`rotate answered ${res.status}`);
        } else {
          await this.tokenOp(server, worker);
        }
      } catch {
        // The kill: this request's outcome is unknown, which the state above already allows for.
        this.counts.inFlightAtKill++;
        return;
      }
    }
  }

  private async tokenOp(server: ServerProcess, worker: number): Promise<void> {
    const mine = this.tokens[worker]!;
    if (mine.live.size < TOKENS_KEPT_LIVE) {
      const res = this.answered(
        'token create',
        await call(server.address, server.rootToken, 'POST', '/v1/auth/token/create', { ttl: '24h', policies: [] }),
      );
      if (res.status === 201 && typeof res.body.token === 'string') {
        mine.live.add(res.body.token);
        this.counts.tokensCreated++;
      } else if (res.status < 500) this.fail(`token create answered ${res.status}`);
      return;
    }
    const token = [...mine.live][0]!;
    mine.live.delete(token);
    mine.maybe.add(token);
    const res = this.answered(
      'token revoke',
      await call(server.address, server.rootToken, 'POST', '/v1/auth/token/revoke', { token }),
    );
    mine.maybe.delete(token);
    if (res.status < 300) {
      mine.revoked.push(token);
      // The oldest revocations have been checked many times; keep the check's cost flat.
      if (mine.revoked.length > 6) mine.revoked.shift();
      this.counts.tokensRevoked++;
    } else {
      mine.live.add(token);
      if (res.status < 500) this.fail(`token revoke answered ${res.status}`);
    }
  }

  /** Every check made after a restart; resolves what was in flight at the kill to what the node kept. */
  async check(server: ServerProcess): Promise<void> {
    const { address, rootToken } = server;
    const names = [...this.written.keys()];
    await inParallel(names, 8, async (name) => {
      const state = this.written.get(name)!;
      const res = await call(address, rootToken, 'GET', `/v1/secret/data/${name}`);
      this.counts.readsChecked++;
      if (res.status === 404) {
        if (state.acked !== undefined) this.fail(`acknowledged write of ${name} lost (404)`);
        state.maybe.clear();
        return;
      }
      const value = res.body.value;
      if (res.status !== 200 || typeof value !== 'string') {
        this.fail(`read of ${name} after restart answered ${res.status}`);
        return;
      }
      if (value !== state.acked && !state.maybe.has(value)) {
        this.fail(`${name} reads neither its acknowledged value nor one in flight at the kill`);
      }
      state.acked = value;
      state.maybe.clear();
    });

    for (const mine of this.tokens) {
      const tokens = [
        ...[...mine.live].map((token) => ({ token, expect: 'live' as const })),
        ...mine.revoked.map((token) => ({ token, expect: 'revoked' as const })),
        ...[...mine.maybe].map((token) => ({ token, expect: 'either' as const })),
      ];
      await inParallel(tokens, 8, async ({ token, expect }) => {
        const res = await call(address, token, 'GET', '/v1/auth/token/lookup-self');
        this.counts.tokenChecks++;
        const live = res.status === 200;
        if (!live && res.status !== 403 && res.status !== 401) {
          this.fail(`token lookup after restart answered ${res.status}`);
        } else if (expect === 'live' && !live) this.fail('an acknowledged token was gone after the restart');
        else if (expect === 'revoked' && live) this.fail('an acknowledged token revocation was lost');
        if (expect === 'either') {
          mine.maybe.delete(token);
          if (live) mine.live.add(token);
        }
      });
    }

    const online = await auditVerifiesOnline(server);
    this.counts.auditVerifies++;
    if (online !== undefined) this.fail(online);

    await this.settleRotations(server);

    const integrity = storeIntegrity(this.dataDir);
    this.counts.integrityChecks++;
    if (integrity !== 'ok') this.fail(`store integrity: ${integrity}`);
  }

  /** Waits for the runner to resume and finish interrupted rotations; then no secret may keep an AWSPENDING. */
  private async settleRotations(server: ServerProcess): Promise<void> {
    const { address, rootToken } = server;
    for (const name of ROTATED) {
      const until = Date.now() + SETTLE_MS;
      let status: unknown;
      for (;;) {
        const res = await call(address, rootToken, 'GET', `/v1/rotation/rotations?secretId=${name}&limit=1`);
        const latest = (res.body.rotations as { status?: string; message?: string }[] | undefined)?.[0];
        status = latest?.status;
        if (status === 'succeeded' || status === 'failed') {
          if (status === 'failed') this.fail(`rotation of ${name} failed: ${latest?.message ?? ''}`);
          break;
        }
        if (Date.now() > until) {
          this.fail(`rotation of ${name} still ${String(status)} ${SETTLE_MS / 1000} s after the restart`);
          break;
        }
        await sleep(50);
      }
      this.counts.rotationsSettled++;
      const pending = await call(address, rootToken, 'GET', `/v1/secret/data/${name}?stage=AWSPENDING`);
      if (pending.status !== 404) this.fail(`${name} keeps a stale AWSPENDING (${pending.status})`);
      const current = await call(address, rootToken, 'GET', `/v1/secret/data/${name}?stage=AWSCURRENT`);
      if (current.status !== 200) this.fail(`${name} AWSCURRENT answered ${current.status}`);
    }
  }
}

async function inParallel<T>(items: readonly T[], width: number, each: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await each(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
}

async function run(ctx: SoakContext): Promise<SoakResult> {
  const tmp = tempDir('coffer-soak-kill-');
  const dataDir = dataDirIn(tmp.dir);
  const soak = new KillCycles(ctx, dataDir);
  let server: ServerProcess | undefined;
  const startMs: number[] = [];
  const cycleMs: number[] = [];
  try {
    server = await startSoakServer(dataDir);
    await soak.prepare(server);
    const target = TARGET[ctx.scale];
    while (soak.counts.cycles < target && Date.now() < ctx.deadline) {
      const cycleStart = Date.now();
      const workers = soak.load(server);
      await sleep(randomInt(10, MAX_LOAD_MS));
      await server.stop('SIGKILL');
      server = undefined;
      await Promise.all(workers);
      const t0 = Date.now();
      server = await startSoakServer(dataDir);
      startMs.push(Date.now() - t0);
      await soak.check(server);
      soak.counts.cycles++;
      cycleMs.push(Date.now() - cycleStart);
      if (soak.counts.cycles % 25 === 0) {
        ctx.log(
          `${soak.counts.cycles} cycles, median start ${median(startMs)} ms, median cycle ${median(cycleMs)} ms, ` +
            `${soak.failures.length} failure(s)`,
        );
      }
    }
    await server.stop('SIGTERM');
    server = undefined;
    const offline = await auditVerifiesOffline(dataDir);
    if (offline !== undefined) soak.fail(offline);
  } finally {
    await server?.stop('SIGKILL');
    tmp.cleanup();
  }
  const minimum = MINIMUM[ctx.scale];
  if (soak.counts.cycles < minimum) soak.fail(`only ${soak.counts.cycles} cycles (at least ${minimum} expected)`);
  ctx.log(`median restart ${median(startMs)} ms, median cycle ${median(cycleMs)} ms`);
  return {
    counts: { ...soak.counts, medianRestartMs: median(startMs), medianCycleMs: median(cycleMs) },
    failures: soak.failures,
  };
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export const campaign: SoakCampaign = {
  name: 'kill-cycles',
  title: 'SIGKILL cycles under 8 concurrent writers, readers, rotations and token revocations',
  run,
};
