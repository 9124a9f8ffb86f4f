import { describe, expect, it } from 'vitest';
import { type Rotation, waitForRotation } from '../../../../../lambdas/entrypoints/cli/commands/rotation.ts';
import { Progress } from '../../../../../lambdas/entrypoints/cli/progress.ts';

const base: Rotation = {
  rotationId: 'r-1',
  versionId: 'v-2',
  secrets: ['prod/db'],
  trigger: 'on-demand',
  status: 'running',
  startedAt: '2026-01-01T00:00:00Z',
};

/** An API that answers each poll with the next state (the last one repeats), and a clock that polls advance. */
function polled(states: readonly Partial<Rotation>[]) {
  let clock = 0;
  const paths: string[] = [];
  const api = {
    async call<T>(_method: string, path: string): Promise<T> {
      paths.push(path);
      return { ...base, ...states[Math.min(paths.length - 1, states.length - 1)] } as T;
    },
  };
  const chunks: string[] = [];
  const progress = new Progress('rotating prod/db', {
    stream: { write: (chunk: string) => chunks.push(chunk), isTTY: false },
    env: {},
    now: () => clock,
    step: 'rotation r-1 started',
  });
  return {
    api,
    paths,
    progress,
    lines: () => chunks.join('').split('\n').slice(0, -1),
    options: {
      progress,
      now: () => clock,
      sleep: async (ms: number) => {
        clock += ms;
      },
    },
  };
}

describe('Function: waitForRotation', () => {
  it('shows each step as the polls see it advance, once each, and resolves with the rotation', async () => {
    const h = polled([
      { step: 'createSecret' },
      { step: 'setSecret' },
      { step: 'setSecret' },
      { step: 'testSecret' },
      { step: 'finishSecret' },
      { status: 'succeeded', step: 'finishSecret', finishedAt: '2026-01-01T00:00:03Z' },
    ]);
    const done = await waitForRotation(h.api, 'r-1', 600_000, h.options);
    expect(done.status).toBe('succeeded');
    h.progress.done(done.status);
    expect(h.lines()).toEqual([
      'rotating prod/db: rotation r-1 started',
      'rotating prod/db: createSecret',
      'rotating prod/db: setSecret',
      'rotating prod/db: testSecret',
      'rotating prod/db: finishSecret',
      // 100 + 200 + 400 + 800 + 1600 ms of back-off between the six polls.
      'rotating prod/db: succeeded (3.1s)',
    ]);
    expect(h.paths.every((path) => path === '/v1/rotation/rotations/r-1')).toBe(true);
  });

  it('names a roll-back and the step it started from, then fails with the rotation message', async () => {
    const h = polled([
      { step: 'testSecret' },
      { status: 'rolling-back', step: 'testSecret' },
      { status: 'failed', step: 'testSecret', message: 'the new key was refused' },
    ]);
    await expect(waitForRotation(h.api, 'r-1', 600_000, h.options)).rejects.toThrow(
      'rotation r-1 failed at testSecret: the new key was refused',
    );
    expect(h.lines()).toEqual([
      'rotating prod/db: rotation r-1 started',
      'rotating prod/db: testSecret',
      'rotating prod/db: rolling back from testSecret',
    ]);
  });

  it('gives up after the timeout with the status it last saw', async () => {
    const h = polled([{ step: 'setSecret' }]);
    await expect(waitForRotation(h.api, 'r-1', 5_000, h.options)).rejects.toThrow(
      'rotation r-1 still running after 5s',
    );
    expect(h.lines()).toEqual(['rotating prod/db: rotation r-1 started', 'rotating prod/db: setSecret']);
  });

  it('polls without progress when none is given', async () => {
    const h = polled([{ step: 'createSecret' }, { status: 'succeeded' }]);
    const { progress: _progress, ...options } = h.options;
    expect((await waitForRotation(h.api, 'r-1', 600_000, options)).status).toBe('succeeded');
    expect(h.lines()).toEqual(['rotating prod/db: rotation r-1 started']);
  });
});
