/**
 * The contract between the rotation workflow (a Step Functions state machine synthesised by CDK, run by Step
 * Functions on AWS and by the in-process runner locally) and the step handlers.
 *
 * One execution rotates one secret or a coordinated group: every task runs its step for every member, so either all
 * members finish or all roll back. The execution is named after `RotationId` (= the client request token), so a
 * repeated trigger cannot start a duplicate.
 */
import type { RotationStep, RotationTrigger } from './rotation-types.ts';

/** The state machine's input. */
export interface RotationExecutionInput {
  readonly RotationId: string;
  /** The new version's id in every member secret. */
  readonly ClientRequestToken: string;
  /** Secret names, in the order the steps run them. */
  readonly Secrets: readonly string[];
  readonly Trigger: RotationTrigger;
  /** Set only by a restarted local runner whose rotation was already rolling back. */
  readonly ResumeAt?: 'rollback';
}

/** What a caught error adds to the state (`ResultPath: $.Error`). */
export interface CaughtError {
  readonly Error: string;
  readonly Cause?: string;
}

/** The payload of every task state: `{ "Step": "<name>", "Rotation.$": "$" }`. */
export interface StepTaskInput {
  readonly Step: RotationStep | 'rollback';
  readonly Rotation: RotationExecutionInput & { readonly Error?: CaughtError };
}

/** The failure event's detail (EventBridge `Coffer Rotation Failed`); never holds a secret value. */
export interface RotationFailureDetail {
  readonly rotationId: string;
  readonly secrets: readonly string[];
  readonly trigger: RotationTrigger;
  readonly failedStep: RotationStep | 'unknown';
  readonly error: string;
  readonly message: string;
}

/** State names of the definition: the local runner binds its in-process handlers to these. */
export const ROTATION_STATES = {
  resume: 'resumeOrStart',
  createSecret: 'createSecret',
  setSecret: 'setSecret',
  testSecret: 'testSecret',
  finishSecret: 'finishSecret',
  rollback: 'rollback',
  publishFailure: 'publishFailure',
  failed: 'RotationFailed',
  succeeded: 'Rotated',
} as const;

/** EventBridge source and detail types Coffer publishes and listens to. */
export const ROTATION_EVENTS = {
  source: 'coffer.rotation',
  failed: 'Coffer Rotation Failed',
  succeeded: 'Coffer Rotation Succeeded',
  compromised: 'Coffer Secret Compromised',
  /** A local node restarted with a rotation in flight (it resumes or finishes rolling back). */
  interrupted: 'Coffer Rotation Interrupted',
  /** Source of breach reports Coffer listens to (a security tool puts `{ detail: { secretId, reason } }`). */
  breachSource: 'coffer.security',
  breachReported: 'Secret Compromised',
} as const;
