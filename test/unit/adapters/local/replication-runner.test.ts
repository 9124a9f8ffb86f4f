import { afterEach, describe, expect, it, vi } from 'vitest';
import { LocalReplicationRunner } from '../../../../lambdas/adapters/local/replication-runner/replication-runner.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('Class: LocalReplicationRunner', () => {
  it('retries a primary whose replicas are behind, with backoff, until they are in sync', async () => {
    vi.useFakeTimers();
    const calls: string[] = [];
    let behindFor = 2;
    const runner = new LocalReplicationRunner({
      replicator: {
        replicate: async (region, name) => {
          calls.push(`${region}/${name}`);
          return { behind: behindFor-- > 0 ? ['us-west-2'] : [] };
        },
        reconcile: async () => ({ behind: [] }),
      },
      retry: { baseDelayMs: 10, maxDelayMs: 40 },
    });
    runner.trigger('us-east-1', 'app/db');
    await runner.idle();
    expect(calls).toEqual(['us-east-1/app/db']);
    await vi.runAllTimersAsync();
    await runner.idle();
    expect(calls).toEqual(['us-east-1/app/db', 'us-east-1/app/db', 'us-east-1/app/db']);
    // In sync: nothing more is scheduled.
    await vi.runAllTimersAsync();
    expect(calls).toHaveLength(3);
    await runner.close();
  });

  it('runs a primary once more for triggers that arrive while it is being replicated, never twice at once', async () => {
    let release: () => void = () => undefined;
    let running = 0;
    let most = 0;
    let calls = 0;
    const runner = new LocalReplicationRunner({
      replicator: {
        replicate: async () => {
          calls++;
          running++;
          most = Math.max(most, running);
          if (calls === 1) await new Promise<void>((resolve) => (release = resolve));
          running--;
          return { behind: [] };
        },
        reconcile: async () => ({ behind: [] }),
      },
    });
    runner.trigger('us-east-1', 'a');
    runner.trigger('us-east-1', 'a');
    runner.trigger('us-east-1', 'a');
    release();
    await runner.idle();
    expect(calls).toBe(2);
    expect(most).toBe(1);
    await runner.close();
  });

  it('keeps going after a failed attempt, reporting it by name only, and starts by reconciling', async () => {
    vi.useFakeTimers();
    const errors: string[] = [];
    const calls: string[] = [];
    let failures = 1;
    const runner = new LocalReplicationRunner({
      replicator: {
        replicate: async (region, name) => {
          calls.push(`${region}/${name}`);
          if (failures-- > 0) throw new Error('store unavailable');
          return { behind: [] };
        },
        reconcile: async () => ({ behind: [{ region: 'eu-west-1', name: 'left/behind', replicas: ['us-west-2'] }] }),
      },
      retry: { baseDelayMs: 5, maxDelayMs: 5 },
      onError: (primary) => errors.push(primary),
    });
    await runner.start();
    await vi.runAllTimersAsync();
    await runner.idle();
    await vi.runAllTimersAsync();
    await runner.idle();
    expect(calls).toEqual(['eu-west-1/left/behind', 'eu-west-1/left/behind']);
    expect(errors).toEqual(['eu-west-1/left/behind']);
    await runner.close();
  });
});
