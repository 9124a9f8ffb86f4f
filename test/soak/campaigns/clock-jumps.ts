import { rmSync, writeFileSync } from 'node:fs';
import { faultClockFile } from '../../../lambdas/entrypoints/local/fault-clock.ts';
import type { ServerProcess } from '../../support/server-process.ts';
import { tempDir } from '../../support/server-process.ts';
import type { SoakCampaign, SoakContext, SoakResult, SoakScale } from '../campaign.ts';
import { auditVerifiesOffline, auditVerifiesOnline, call, dataDirIn, sleep, startSoakServer } from '../node.ts';

/**
 * The node's clock jumps forward and back by hours (COFFER_FAULT_INJECTION's clock offset file) while tokens with
 * TTLs are created, revoked and looked up and rotations run. Expirations are wall-clock, as Vault's and AWS's are (see
 * docs/RELIABILITY.md): at the node's time t a token is live exactly when it was not revoked and expires after t. So:
 * - no premature expiry: a token whose expiry is after the node's current time answers live, whatever the jumps
 *   before (a backward jump never expires anything; a forward jump expires only what is past its expiry);
 * - no lost revocation: a revoked token never answers live again, and neither does one seen expired, after any jump;
 * - every rotation started settles, with no AWSPENDING left and a current key that validates.
 */

const HOUR = 3_600_000;
/** The offsets (hours from the machine's clock) one episode visits, in order. */
const JUMPS_H = [0, -3, 1, -1, 3, 0, -6, 25, -2, 0];
const EPISODES: Record<SoakScale, number> = { ci: 2, default: 15, long: 100 };
const MINIMUM: Record<SoakScale, number> = { ci: 2, default: 3, long: 30 };
/** Tokens whose expiry is this close to the node's time are not judged: the lookup and the check race it. */
const MARGIN_MS = 60_000;
/** Longer than the node's 100 ms re-read of the offset file. */
const SETTLE_CLOCK_MS = 400;
const ROTATED = 'soak/clock-rot';

interface TrackedToken {
  token: string;
  expiresAt: number;
  revoked: boolean;
  /** Answered expired once: must never answer live again. */
  seenDead: boolean;
}

class ClockJumps {
  readonly counts = {
    episodes: 0,
    jumps: 0,
    tokensCreated: 0,
    tokensRevoked: 0,
    lookups: 0,
    liveChecks: 0,
    deadChecks: 0,
    expiredByForwardJump: 0,
    rotations: 0,
    auditVerifies: 0,
  };
  readonly failures: string[] = [];
  readonly tokens: TrackedToken[] = [];
  offsetMs = 0;

  constructor(
    private readonly ctx: SoakContext,
    private readonly server: ServerProcess,
  ) {}

  fail(message: string): void {
    this.failures.push(`episode ${this.counts.episodes}, offset ${this.offsetMs / HOUR} h: ${message}`);
    this.ctx.log(`FAILURE ${message}`);
  }

  async jump(hours: number): Promise<void> {
    this.offsetMs = hours * HOUR;
    writeFileSync(faultClockFile(this.server.dataDir), String(this.offsetMs));
    await sleep(SETTLE_CLOCK_MS);
    this.counts.jumps++;
  }

  async create(ttlHours: number): Promise<void> {
    const { address, rootToken } = this.server;
    const res = await call(address, rootToken, 'POST', '/v1/auth/token/create', { ttl: `${ttlHours * 60}m` });
    if (res.status !== 201 || typeof res.body.token !== 'string' || typeof res.body.expiresAt !== 'string') {
      this.fail(`token create answered ${res.status}`);
      return;
    }
    const expiresAt = Date.parse(res.body.expiresAt);
    const expected = Date.now() + this.offsetMs + ttlHours * HOUR;
    // The TTL runs from the node's time, jumped or not.
    if (Math.abs(expiresAt - expected) > MARGIN_MS) {
      this.fail(`a ${ttlHours} h token expires ${((expiresAt - expected) / HOUR).toFixed(2)} h off the node's clock`);
    }
    this.tokens.push({ token: res.body.token, expiresAt, revoked: false, seenDead: false });
    this.counts.tokensCreated++;
  }

  async revokeOne(): Promise<void> {
    const nodeNow = Date.now() + this.offsetMs;
    const target = this.tokens.find((t) => !t.revoked && !t.seenDead && t.expiresAt > nodeNow + MARGIN_MS);
    if (target === undefined) return;
    const res = await call(this.server.address, this.server.rootToken, 'POST', '/v1/auth/token/revoke', {
      token: target.token,
    });
    if (res.status >= 300) this.fail(`token revoke answered ${res.status}`);
    else {
      target.revoked = true;
      this.counts.tokensRevoked++;
    }
  }

  /** Every token against the rule above, at the node's current time. */
  async checkTokens(): Promise<void> {
    const nodeNow = Date.now() + this.offsetMs;
    for (const tracked of this.tokens) {
      const res = await call(this.server.address, tracked.token, 'GET', '/v1/auth/token/lookup-self');
      this.counts.lookups++;
      const live = res.status === 200;
      if (!live && res.status !== 403 && res.status !== 401) {
        this.fail(`token lookup answered ${res.status}`);
        continue;
      }
      if (tracked.revoked || tracked.seenDead) {
        this.counts.deadChecks++;
        if (live) this.fail(tracked.revoked ? 'a revoked token answered live' : 'a token seen expired came back');
        continue;
      }
      if (Math.abs(tracked.expiresAt - nodeNow) < MARGIN_MS) {
        // At its expiry either answer is right, but one seen expired must stay so.
        if (!live) tracked.seenDead = true;
        continue;
      }
      if (tracked.expiresAt > nodeNow) {
        this.counts.liveChecks++;
        if (!live) {
          this.fail(`premature expiry: a token with ${((tracked.expiresAt - nodeNow) / HOUR).toFixed(2)} h left`);
        }
      } else {
        this.counts.deadChecks++;
        if (live) this.fail(`a token ${((nodeNow - tracked.expiresAt) / HOUR).toFixed(2)} h past its expiry is live`);
        else {
          tracked.seenDead = true;
          this.counts.expiredByForwardJump++;
        }
      }
    }
  }

  /** Starts a rotation, jumps the clock while it runs, and expects it to settle cleanly. */
  async rotateAcross(hours: number): Promise<void> {
    const { address, rootToken } = this.server;
    const started = await call(address, rootToken, 'POST', '/v1/rotation/rotate', { secretId: ROTATED });
    if (started.status !== 202 && started.status !== 200) {
      this.fail(`rotate answered ${started.status}`);
      return;
    }
    await this.jump(hours);
    const id = String(started.body.rotationId);
    const until = Date.now() + 30_000;
    for (;;) {
      const res = await call(address, rootToken, 'GET', `/v1/rotation/rotations/${id}`);
      if (res.body.status === 'succeeded') break;
      if (res.body.status === 'failed' || Date.now() > until) {
        this.fail(`rotation across a ${hours} h jump: ${String(res.body.status)} ${String(res.body.message ?? '')}`);
        return;
      }
      await sleep(50);
    }
    this.counts.rotations++;
    const pending = await call(address, rootToken, 'GET', `/v1/secret/data/${ROTATED}?stage=AWSPENDING`);
    if (pending.status !== 404) this.fail(`stale AWSPENDING after a rotation across a jump (${pending.status})`);
    const current = await call(address, rootToken, 'GET', `/v1/secret/data/${ROTATED}?stage=AWSCURRENT`);
    const apiKey = (JSON.parse(String(current.body.value ?? '{}')) as { apiKey?: string }).apiKey;
    const valid = await call(address, rootToken, 'POST', '/v1/apikeys/validate', { key: apiKey });
    if (valid.body.valid !== true) this.fail('the current API key does not validate after a rotation across a jump');
  }

  async episode(): Promise<void> {
    for (const [index, hours] of JUMPS_H.entries()) {
      if (index % 3 === 1) await this.rotateAcross(hours);
      else await this.jump(hours);
      await this.checkTokens();
      for (const ttl of [0.5, 2, 4, 24]) await this.create(ttl);
      await this.revokeOne();
      await this.checkTokens();
    }
    const audit = await auditVerifiesOnline(this.server);
    this.counts.auditVerifies++;
    if (audit !== undefined) this.fail(audit);
    // Tokens judged dead stay in the list (they are the revocations that must not be lost); live ones older than
    // an episode are dropped so each episode's checks cost the same.
    this.tokens.splice(0, Math.max(0, this.tokens.length - 120));
  }
}

async function run(ctx: SoakContext): Promise<SoakResult> {
  const tmp = tempDir('coffer-soak-clock-');
  const dataDir = dataDirIn(tmp.dir);
  let server: ServerProcess | undefined;
  let soak: ClockJumps | undefined;
  try {
    server = await startSoakServer(dataDir, { COFFER_FAULT_INJECTION: '1' });
    soak = new ClockJumps(ctx, server);
    const { address, rootToken } = server;
    await call(address, rootToken, 'PUT', `/v1/secret/data/${ROTATED}`, {
      value: JSON.stringify({ keyId: 'none', apiKey: 'none' }),
    });
    const config = await call(address, rootToken, 'PUT', `/v1/rotation/configs/${ROTATED}`, {
      type: 'api-key-coffer',
      settings: { overlapSeconds: 3600 },
    });
    if (config.status !== 200) throw new Error(`rotation config: ${config.status}`);
    while (soak.counts.episodes < EPISODES[ctx.scale] && Date.now() < ctx.deadline) {
      await soak.episode();
      soak.counts.episodes++;
    }
    rmSync(faultClockFile(dataDir), { force: true });
    await server.stop('SIGTERM');
    server = undefined;
    const offline = await auditVerifiesOffline(dataDir);
    if (offline !== undefined) soak.fail(offline);
  } finally {
    await server?.stop('SIGKILL');
    tmp.cleanup();
  }
  if (soak.counts.episodes < MINIMUM[ctx.scale]) {
    soak.fail(`only ${soak.counts.episodes} episodes (at least ${MINIMUM[ctx.scale]} expected)`);
  }
  return { counts: soak.counts, failures: soak.failures };
}

export const campaign: SoakCampaign = {
  name: 'clock-jumps',
  title: 'the node clock jumps forward and back by hours during token TTLs, revocations and rotations',
  run,
};
