import { describe, expect, it } from 'vitest';
import { runAwsFaultScenario } from '../../soak/support/aws-fault-scenario.ts';
import { awsEmulator } from '../../support/aws-emulator.ts';

/**
 * The AWS adapters under injected faults, against the emulator: secret writes and reads through the Lambda broker
 * while a fifth of DynamoDB, KMS and S3 HTTP attempts are throttled, fail with 500, time out, are delayed or lose
 * their answer after being applied; then the audit relay until the outbox is empty. The soak campaign
 * (test/soak/campaigns/aws-faults.ts) runs the same scenario at larger counts.
 */
describe('AWS adapters under throttling, 5xx, timeouts and lost responses (emulator)', () => {
  it('loses no acknowledged write, applies none twice, ships every audit record once, and retries boundedly', async () => {
    const result = await runAwsFaultScenario({
      emulator: awsEmulator(),
      seed: 20261207,
      requests: 120,
      faultRate: 0.2,
    });
    expect(result.failures).toEqual([]);
    expect(result.counts.requests).toBe(120);
    // The faults happened, and each kind at least once.
    for (const fault of ['throttle', 'server-error', 'timeout', 'lost-response', 'delay']) {
      expect(result.counts[`fault.${fault}`], fault).toBeGreaterThan(0);
    }
    for (const client of ['ddb', 'relay', 'kms', 's3']) {
      expect(result.counts[`sdk.${client}.max-attempts-per-call`]).toBeLessThanOrEqual(4);
    }
    expect(result.counts['audit.acknowledged-requests']).toBeGreaterThan(60);
  }, 240_000);
});
