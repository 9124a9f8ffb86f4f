/**
 * Ports of the rotation service: where executions run, where schedules live, and where events go.
 * Locally: the in-process runner, the durable local scheduler (which reads the store, so schedule sync is a no-op)
 * and an events file. On AWS: Step Functions, EventBridge Scheduler and EventBridge.
 */
import type { RotationRules } from '../rotation/rotation-types.ts';
import type { RotationExecutionInput } from '../rotation/rotation-workflow.ts';

export interface RotationLauncher {
  /**
   * Starts the workflow for `input`. Named after `input.RotationId`: launching the same id twice starts one
   * execution (the second call succeeds without starting another). Resolves once the start is durable, not when
   * the rotation ends.
   */
  launch(input: RotationExecutionInput): Promise<void>;
}

export interface RotationScheduleSync {
  /** Creates or updates the schedule that rotates `secretName` by `rules`. */
  put(secretName: string, rules: RotationRules): Promise<void>;
  /** Deletes the schedule of `secretName`; succeeds when there is none. */
  delete(secretName: string): Promise<void>;
}

export interface RotationEventPublisher {
  /** Publishes one event (EventBridge `DetailType` + detail). Detail never holds secret material. */
  publish(detailType: string, detail: Readonly<Record<string, unknown>>): Promise<void>;
}
