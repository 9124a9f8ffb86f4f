import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  FileEventPublisher,
  storeBackedSchedules,
} from '../../../../../lambdas/adapters/local/rotation-runner/file-event-publisher.ts';
import { LocalRotationRunner } from '../../../../../lambdas/adapters/local/rotation-runner/local-rotation-runner.ts';
import { systemClock } from '../../../../../lambdas/core/ports/clock.ts';
import type { StepTaskInput } from '../../../../../lambdas/core/rotation/rotation-workflow.ts';
import {
  type DeliveredEvent,
  describeRotationEventsContract,
  describeRotationLauncherContract,
  describeRotationSchedulesContract,
  type StartedExecution,
} from '../../../../contract/rotation-ports.contract.ts';

const definition = JSON.parse(
  fs.readFileSync(
    new URL('../../../../../lambdas/core/rotation/workflow/rotation-state-machine.asl.json', import.meta.url),
    'utf8',
  ),
) as Record<string, unknown>;

/** A promise and the function that settles it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

describeRotationLauncherContract('LocalRotationRunner', { oncePerRotationEver: false }, async () => {
  const started: StartedExecution[] = [];
  /** Per rotation: reached when its execution ran its first step. */
  const reached = new Map<string, ReturnType<typeof deferred>>();
  /** Per rotation: its steps wait here, so the execution stays in flight until the test ends it. */
  const gates = new Map<string, ReturnType<typeof deferred>>();
  const entry = (map: Map<string, ReturnType<typeof deferred>>, id: string) => {
    const found = map.get(id) ?? deferred();
    map.set(id, found);
    return found;
  };
  const runner = new LocalRotationRunner({
    definition,
    events: { publish: async () => undefined },
    step: async (task: StepTaskInput) => {
      const id = task.Rotation.RotationId;
      if (task.Step === 'createSecret') {
        started.push({ rotationId: id, input: task.Rotation });
        entry(reached, id).resolve();
      }
      await entry(gates, id).promise;
      return {};
    },
  });
  return {
    launcher: runner,
    // Executions in flight have all reached their first step once these settle: nothing is left to start.
    executions: async () => {
      await Promise.all(runner.running.map((id) => entry(reached, id).promise));
      return [...started];
    },
    end: async (rotationId) => {
      entry(gates, rotationId).resolve();
      await runner.done(rotationId);
    },
    cleanup: async () => {
      for (const id of runner.running) entry(gates, id).resolve();
      await runner.idle();
      await runner.close();
    },
  };
});

describeRotationSchedulesContract('store-backed schedules', async () => ({ schedules: storeBackedSchedules }));

describeRotationEventsContract('FileEventPublisher', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-events-'));
  const file = path.join(dir, 'events.jsonl');
  return {
    events: new FileEventPublisher(file, systemClock),
    delivered: async () =>
      fs.existsSync(file)
        ? fs
            .readFileSync(file, 'utf8')
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => JSON.parse(line) as DeliveredEvent)
        : [],
    // A path under a directory that does not exist: the append cannot create it.
    unreachable: () => new FileEventPublisher(path.join(dir, 'missing', 'events.jsonl'), systemClock),
    cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
});
