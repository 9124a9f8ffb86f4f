import { describe, expect, it } from 'vitest';
import { Mutex } from '../../../lambdas/core/mutex.ts';

describe('Mutex', () => {
  it('runs sections one at a time, in call order, and a failed section does not stop the next', async () => {
    const lock = new Mutex();
    const log: string[] = [];
    const section = (name: string, fail = false) =>
      lock.run(async () => {
        log.push(`${name} start`);
        await new Promise((resolve) => setImmediate(resolve));
        log.push(`${name} end`);
        if (fail) throw new Error(name);
        return name;
      });
    const outcomes = await Promise.allSettled([section('a'), section('b', true), section('c')]);
    expect(log).toEqual(['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });
});
