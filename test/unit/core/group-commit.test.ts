import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../../lambdas/core/group-commit.ts';

/** A commit that records its batches and answers when told to, so a test decides when a write ends. */
function controlledCommit<T>() {
  const batches: T[][] = [];
  const releases: (() => void)[] = [];
  const commit = async (batch: readonly T[]) => {
    batches.push([...batch]);
    await new Promise<void>((resolve) => releases.push(resolve));
  };
  return { batches, releases, commit };
}

/** Resolves once `condition` holds, checking after each turn of the event loop. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe('GroupCommit', () => {
  it('commits the items of one event-loop turn as one batch, in the order they were added', async () => {
    const batches: number[][] = [];
    const queue = new GroupCommit<number>({ maxBatch: 100, commit: async (batch) => void batches.push([...batch]) });
    await Promise.all([1, 2, 3].map((n) => queue.add(n)));
    await queue.add(4);
    expect(batches).toEqual([[1, 2, 3], [4]]);
  });

  it('gathers what is added while a batch is being written into the next batch, one write at a time', async () => {
    const { batches, releases, commit } = controlledCommit<string>();
    const queue = new GroupCommit<string>({ maxBatch: 100, commit });
    const first = queue.add('a');
    await until(() => batches.length === 1);
    const later = [queue.add('b'), queue.add('c')];
    await until(() => queue.size === 2);
    expect(batches).toHaveLength(1);
    releases[0]!();
    await first;
    await until(() => batches.length === 2);
    releases[1]!();
    await Promise.all(later);
    expect(batches).toEqual([['a'], ['b', 'c']]);
  });

  it('bounds a batch by maxBatch and keeps the order across batches', async () => {
    const batches: number[][] = [];
    const queue = new GroupCommit<number>({ maxBatch: 2, commit: async (batch) => void batches.push([...batch]) });
    await Promise.all([1, 2, 3, 4, 5].map((n) => queue.add(n)));
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('rejects every waiter of a failed batch with its error, and no waiter of another batch', async () => {
    const failure = new Error('disk full');
    let calls = 0;
    const queue = new GroupCommit<number>({
      maxBatch: 2,
      commit: async () => {
        calls++;
        if (calls === 1) throw failure;
      },
    });
    const outcomes = await Promise.allSettled([1, 2, 3].map((n) => queue.add(n)));
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect(outcomes[0]).toMatchObject({ reason: failure });
    expect(outcomes[1]).toMatchObject({ reason: failure });
  });

  it('rejects only the items the commit says failed', async () => {
    const bad = new Error('not serialisable');
    const queue = new GroupCommit<number>({
      maxBatch: 10,
      commit: async (batch) => batch.map((n) => (n === 2 ? bad : undefined)),
    });
    const outcomes = await Promise.allSettled([1, 2, 3].map((n) => queue.add(n)));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(outcomes[1]).toMatchObject({ reason: bad });
  });

  it('never runs two commits at once, even with many concurrent callers', async () => {
    let running = 0;
    let most = 0;
    const committed: number[] = [];
    const queue = new GroupCommit<number>({
      maxBatch: 3,
      schedule: 'now',
      commit: async (batch) => {
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setImmediate(resolve));
        committed.push(...batch);
        running--;
      },
    });
    const items = Array.from({ length: 50 }, (_, i) => i);
    await Promise.all(items.map((n) => queue.add(n)));
    expect(most).toBe(1);
    expect(committed).toEqual(items);
  });

  it('shares the exclusive lock it is given with other work', async () => {
    const log: string[] = [];
    let tail: Promise<unknown> = Promise.resolve();
    const exclusive = <R>(section: () => Promise<R>): Promise<R> => {
      const run = tail.then(section);
      tail = run.catch(() => undefined);
      return run;
    };
    const queue = new GroupCommit<string>({
      maxBatch: 10,
      schedule: 'now',
      exclusive,
      commit: async (batch) => void log.push(`commit ${batch.join(',')}`),
    });
    const other = exclusive(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      log.push('other');
    });
    await Promise.all([queue.add('x'), other]);
    expect(log).toEqual(['other', 'commit x']);
  });

  it('commits every queued item on close, and refuses items after it', async () => {
    const committed: number[] = [];
    const queue = new GroupCommit<number>({ maxBatch: 2, commit: async (batch) => void committed.push(...batch) });
    const pending = [1, 2, 3].map((n) => queue.add(n));
    await queue.close();
    expect(committed).toEqual([1, 2, 3]);
    await Promise.all(pending);
    await expect(queue.add(4)).rejects.toThrow(/closed/);
  });

  it('drain commits what is queued for an owner that holds the lock itself', async () => {
    const committed: number[] = [];
    const queue = new GroupCommit<number>({ maxBatch: 10, commit: async (batch) => void committed.push(...batch) });
    const pending = queue.add(1);
    await queue.drain();
    expect(committed).toEqual([1]);
    await pending;
  });
});
