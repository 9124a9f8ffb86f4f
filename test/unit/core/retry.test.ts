import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../../lambdas/core/errors.ts';
import { ConditionFailedError } from '../../../lambdas/core/ports/store.ts';
import { backoffDelay, retryOnConflict } from '../../../lambdas/core/retry.ts';

const conflict = (index = 0) => new ConditionFailedError(index, 'pk', 'sk');

/** Records the waits instead of waiting, and answers the largest jitter so the ceilings show. */
function recordingDeps() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms), random: () => 0.999_999 };
}

describe('retryOnConflict', () => {
  it('returns the first result that is not a conflict, re-running the function after each conflict', async () => {
    const deps = recordingDeps();
    let calls = 0;
    const result = await retryOnConflict(async (attempt) => {
      calls++;
      if (attempt < 3) throw conflict();
      return `done on ${attempt}`;
    }, deps);
    expect(result).toBe('done on 3');
    expect(calls).toBe(3);
    expect(deps.waits).toHaveLength(2);
  });

  it('gives up after maxAttempts and rethrows the last conflict', async () => {
    const deps = recordingDeps();
    const errors: ConditionFailedError[] = [];
    const outcome = retryOnConflict(
      async () => {
        const err = conflict(errors.length);
        errors.push(err);
        throw err;
      },
      { ...deps, maxAttempts: 4 },
    );
    const thrown = await outcome.catch((err: unknown) => err);
    expect(errors).toHaveLength(4);
    expect(thrown).toBe(errors[3]);
    expect(deps.waits).toHaveLength(3);
  });

  it('throws what onExhausted makes once attempts run out, with the last conflict at hand', async () => {
    const outcome = retryOnConflict(
      async () => {
        throw conflict(7);
      },
      {
        ...recordingDeps(),
        maxAttempts: 2,
        onExhausted: (last) => new ConflictError(`busy (operation ${last.index})`),
      },
    );
    await expect(outcome).rejects.toThrow(new ConflictError('busy (operation 7)'));
  });

  it('throws other errors, and conflicts retryIf rejects, at once', async () => {
    const deps = recordingDeps();
    let calls = 0;
    const boom = new Error('store down');
    await expect(
      retryOnConflict(async () => {
        calls++;
        throw boom;
      }, deps),
    ).rejects.toBe(boom);
    const refused = conflict(1);
    await expect(
      retryOnConflict(
        async () => {
          calls++;
          throw refused;
        },
        { ...deps, retryIf: (c) => c.index === 0, onExhausted: () => new Error('not this') },
      ),
    ).rejects.toBe(refused);
    expect(calls).toBe(2);
    expect(deps.waits).toEqual([]);
  });

  it('backs off exponentially with full jitter, capped', async () => {
    const deps = recordingDeps();
    await expect(
      retryOnConflict(
        async () => {
          throw conflict();
        },
        { ...deps, maxAttempts: 7, baseDelayMs: 4, maxDelayMs: 50 },
      ),
    ).rejects.toBeInstanceOf(ConditionFailedError);
    expect(deps.waits).toEqual([3, 7, 15, 31, 49, 49]);
    expect(backoffDelay(3, { maxAttempts: 5, baseDelayMs: 4, maxDelayMs: 50 }, () => 0)).toBe(0);
  });

  it('bounds the attempts by default', async () => {
    let calls = 0;
    await expect(
      retryOnConflict(
        async () => {
          calls++;
          throw conflict();
        },
        { sleep: async () => {} },
      ),
    ).rejects.toBeInstanceOf(ConditionFailedError);
    expect(calls).toBe(10);
  });
});
