import { describe, expect, it } from 'vitest';
import { runMalformedInput } from '../../soak/campaigns/malformed-input.ts';

/**
 * The CI variant of the malformed-input soak campaign (`npm run soak` runs it at 100,000 requests per surface): a
 * thousand mutated requests on each of the four surfaces of a real server and extension, with a fixed seed so a
 * failure here is the same failure on every machine.
 */
describe('malformed input on every API surface (CI scale)', () => {
  it('answers every request below 500, leaks no canary, stays up, and keeps the audit chain verifiable', async () => {
    const lines: string[] = [];
    const result = await runMalformedInput(
      { scale: 'ci', log: (line) => lines.push(line), deadline: Date.now() + 240_000 },
      20261207,
    );
    expect(result.failures).toEqual([]);
    for (const surface of ['native', 'secretsmanager', 'logins', 'extension']) {
      // A few requests node:http itself refuses to send never reach the server; all the others were answered.
      const sent = result.counts[`${surface}.requests`] ?? 0;
      expect(sent + (result.counts[`${surface}.unsendable`] ?? 0)).toBe(1_000);
      expect(sent).toBeGreaterThan(900);
      expect(result.counts[`${surface}.4xx`]).toBeGreaterThan(0);
      expect(result.counts[`${surface}.canary-leaks`]).toBeUndefined();
    }
    expect(result.counts['audit-records-verified']).toBeGreaterThan(4_000);
  }, 300_000);
});
