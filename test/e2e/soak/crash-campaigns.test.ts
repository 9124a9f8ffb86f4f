import { describe, expect, it } from 'vitest';
import type { SoakCampaign, SoakResult } from '../../soak/campaign.ts';
import { campaign as clockJumps } from '../../soak/campaigns/clock-jumps.ts';
import { campaign as diskFull } from '../../soak/campaigns/disk-full.ts';
import { campaign as killCycles } from '../../soak/campaigns/kill-cycles.ts';

/**
 * The short CI variant of `npm run soak` for the crash, disk and clock campaigns: each at `ci` scale (a few dozen
 * SIGKILL cycles, disk-full and read-only episodes, clock-jump episodes) against the real server from dist/. A
 * campaign checks its own invariants and reports every breach in `failures`; a campaign cut short by its deadline
 * reports that too.
 */

/** Generous: a loaded 2-core machine restarts the server in 1.5–5 s, and kill-cycles restarts it 25 times. */
const BUDGET_MS = 240_000;

async function runCi(campaign: SoakCampaign): Promise<SoakResult> {
  const lines: string[] = [];
  const result = await campaign.run({ scale: 'ci', log: (line) => lines.push(line), deadline: Date.now() + BUDGET_MS });
  // The log names the failures' context (cycle, phase); shown only when the assertion fails.
  expect(result.failures, lines.join('\n')).toEqual([]);
  return result;
}

describe('Soak campaigns at CI scale: crashes, a full disk, clock jumps', () => {
  it(
    'kill-cycles: SIGKILLs under 8 workers lose no acknowledged write, token or revocation',
    async () => {
      const { counts } = await runCi(killCycles);
      expect(counts.cycles).toBeGreaterThanOrEqual(25);
      expect(counts.auditVerifies).toBe(counts.cycles);
      expect(counts.integrityChecks).toBe(counts.cycles);
      expect(counts.acknowledgedWrites).toBeGreaterThan(0);
      expect(counts.inFlightAtKill).toBeGreaterThan(0);
      expect(counts.tokensCreated).toBeGreaterThan(0);
      expect(counts.tokenChecks).toBeGreaterThan(0);
    },
    BUDGET_MS + 60_000,
  );

  it(
    'disk-full: a full or read-only data dir answers 503, keeps nothing refused, and recovers without a restart',
    async () => {
      const { counts } = await runCi(diskFull);
      expect(counts.episodes).toBeGreaterThanOrEqual(6);
      expect(counts.recoveries).toBe(counts.episodes);
      expect(counts.refused503).toBeGreaterThan(0);
      // Each kind ran and refused writes: the whole dir read-only fails closed on the audit log, the store alone
      // read-only on the store, while reads go on.
      expect(counts.readOnlyEpisodes).toBeGreaterThanOrEqual(2);
      expect(counts.storeReadOnlyEpisodes).toBeGreaterThanOrEqual(2);
      expect(counts['refused503.read-only.audit_unavailable']).toBeGreaterThan(0);
      expect(counts['refused503.store-read-only.storage_unavailable']).toBeGreaterThan(0);
      expect(counts.readsServedWhileStoreReadOnly).toBeGreaterThan(0);
    },
    BUDGET_MS + 60_000,
  );

  it(
    'clock-jumps: no premature expiry, no lost revocation, rotations settle across jumps of hours',
    async () => {
      const { counts } = await runCi(clockJumps);
      expect(counts.episodes).toBeGreaterThanOrEqual(2);
      expect(counts.liveChecks).toBeGreaterThan(0);
      expect(counts.expiredByForwardJump).toBeGreaterThan(0);
      expect(counts.rotations).toBeGreaterThan(0);
    },
    BUDGET_MS + 60_000,
  );
});
