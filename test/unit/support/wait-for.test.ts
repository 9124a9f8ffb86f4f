import { describe, expect, it } from 'vitest';
import { waitFor } from '../../support/wait-for.ts';

describe('waitFor', () => {
  it('resolves to the first answer that is not undefined, null or false', async () => {
    const answers: unknown[] = [undefined, null, false, 0, 'late'];
    let probes = 0;
    expect(await waitFor('an answer', () => answers[probes++], { intervalMs: 0 })).toBe(0);
    expect(probes).toBe(4);
  });

  it('awaits asynchronous probes', async () => {
    let probes = 0;
    const found = await waitFor('the third probe', async () => (++probes === 3 ? { probes } : undefined), {
      intervalMs: 0,
    });
    expect(found).toEqual({ probes: 3 });
  });

  it('fails naming what it waited for, with the detail, once the time is up', async () => {
    await expect(
      waitFor('the server to listen', () => false, { timeoutMs: 0, detail: () => 'server said: port in use' }),
    ).rejects.toThrow(/^timed out after 0 ms waiting for the server to listen\nserver said: port in use$/);
  });

  it('fails at once with what the probe throws', async () => {
    let probes = 0;
    const failing = waitFor('a probe that fails', () => {
      probes++;
      throw new Error('assertion inside the probe');
    });
    await expect(failing).rejects.toThrow('assertion inside the probe');
    expect(probes).toBe(1);
  });
});
