import { randomInt } from 'node:crypto';
// @ts-expect-error -- plain ESM script shared with users (localstack/start-emulator.mjs); no type declarations.
import { startEmulator } from '../../../localstack/start-emulator.mjs';
import type { SoakCampaign, SoakContext, SoakResult, SoakScale } from '../campaign.ts';
import { runAwsFaultScenario } from '../support/aws-fault-scenario.ts';

/**
 * The AWS adapters under injected faults, against an AWS emulator (moto, started here unless AWS_ENDPOINT_URL or one
 * on 127.0.0.1:4566 is provided): secret writes and reads through the Lambda broker while a fifth of the DynamoDB,
 * KMS and S3 HTTP attempts are throttled, answer 500, time out, are delayed or lose their answer after being applied;
 * then the audit relay on faulty clients until the outbox is empty. See `runAwsFaultScenario` for what is checked.
 * `COFFER_SOAK_SEED` reruns one seed.
 */

/** Broker requests per round, and the rounds (each a fresh table, bucket and stream) at each scale. */
const PLAN: Record<SoakScale, { requests: number; rounds: number }> = {
  ci: { requests: 120, rounds: 1 },
  default: { requests: 200, rounds: 1 },
  long: { requests: 1_000, rounds: 5 },
};
const FAULT_RATE = 0.2;

interface Emulator {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function runAwsFaults(ctx: SoakContext, seed = defaultSeed()): Promise<SoakResult> {
  const plan = PLAN[ctx.scale];
  const emulator = (await startEmulator()) as Emulator;
  const counts: Record<string, number> = { seed };
  const failures: string[] = [];
  const started = Date.now();
  ctx.log(`aws-faults: seed=${seed} emulator=${emulator.endpoint} ${plan.rounds} × ${plan.requests} requests`);
  try {
    for (let round = 0; round < plan.rounds; round++) {
      // Leave the round's checks (relay drain, S3 reads) time before the deadline.
      if (Date.now() > ctx.deadline - 60_000) break;
      const result = await runAwsFaultScenario({
        emulator: {
          endpoint: emulator.endpoint,
          region: 'us-east-1',
          credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        },
        seed: seed + round * 1_000,
        requests: plan.requests,
        faultRate: FAULT_RATE,
        log: ctx.log,
        stopAt: ctx.deadline - 60_000,
      });
      counts.rounds = (counts.rounds ?? 0) + 1;
      for (const [key, value] of Object.entries(result.counts)) {
        if (key === 'seed') continue;
        // Maxima stay maxima; everything else adds up over the rounds.
        counts[key] = key.includes('max-attempts') ? Math.max(counts[key] ?? 0, value) : (counts[key] ?? 0) + value;
      }
      failures.push(...result.failures.map((f) => `round ${round} (seed ${seed + round * 1_000}): ${f}`));
    }
  } finally {
    await emulator.stop();
  }
  counts.seconds = Math.round((Date.now() - started) / 1000);
  return { counts, failures };
}

function defaultSeed(): number {
  const fromEnv = process.env.COFFER_SOAK_SEED;
  return fromEnv !== undefined && /^\d+$/.test(fromEnv) ? Number(fromEnv) >>> 0 : randomInt(0, 2 ** 31);
}

export const campaign: SoakCampaign = {
  name: 'aws-faults',
  title:
    'AWS adapters under throttling, 5xx, timeouts and lost answers: bounded retries, no lost or doubled write or audit record',
  run: (ctx) => runAwsFaults(ctx),
};
