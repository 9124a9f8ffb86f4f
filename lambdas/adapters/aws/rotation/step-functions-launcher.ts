import { createHash } from 'node:crypto';
import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { RotationLauncher } from '../../../core/ports/rotation.ts';
import type { RotationExecutionInput } from '../../../core/rotation/rotation-workflow.ts';
import { awsErrorName, requestFailure } from './aws-failure.ts';

/**
 * What a rotation id may be used as unchanged: the characters Step Functions accepts in an execution name that is to
 * be logged to CloudWatch Logs, at most 80 of them. UUIDs and client request tokens (32-64 of `[a-zA-Z0-9-_]`) pass.
 */
const PLAIN_NAME = /^[A-Za-z0-9_-]{1,80}$/;
/** Characters of the readable part of a mapped name. */
const READABLE_PREFIX_LENGTH = 15;

/**
 * The execution name of rotation `rotationId`: the id itself when it is a valid name, otherwise a readable prefix
 * (other characters replaced by `_`) and the SHA-256 of the id in hex. A mapped name is 66-80 characters long, so it
 * can never equal a client request token (at most 64) used as a name unchanged.
 *
 * @example
 * executionNameOf('6f1c2b0e-8d2e-4a53-9a7b-0c6d3f7e1a42'); // the same string
 * executionNameOf('prod/db rotation'); // 'prod_db_rotatio-<64 hex digits>'
 */
export function executionNameOf(rotationId: string): string {
  if (PLAIN_NAME.test(rotationId)) return rotationId;
  const readable = rotationId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, READABLE_PREFIX_LENGTH) || 'rotation';
  return `${readable}-${createHash('sha256').update(rotationId).digest('hex')}`;
}

export interface StepFunctionsRotationLauncherOptions {
  /** The Step Functions client, injected so tests can point it at an emulator or mock it. */
  readonly client: SFNClient;
  /** ARN of the rotation state machine (a standard workflow, synthesised by `lib/coffer-rotation.ts`). */
  readonly stateMachineArn: string;
}

/**
 * The AWS {@link RotationLauncher}: one Step Functions execution per rotation, named after its `RotationId` (see
 * {@link executionNameOf}) with the execution input as JSON.
 *
 * Launching the same rotation twice starts one execution. Step Functions answers a repeat of a running execution's
 * name and input with that execution, and a repeat of a name it has already used (the execution ended, or the input
 * differs) with `ExecutionAlreadyExists`; both are a success here, since the rotation of that id was started.
 *
 * @example
 * ```ts
 * const launcher = new StepFunctionsRotationLauncher({ client: new SFNClient({}), stateMachineArn });
 * await launcher.launch({ RotationId: token, ClientRequestToken: token, Secrets: ['prod/db'], Trigger: 'on-demand' });
 * ```
 */
export class StepFunctionsRotationLauncher implements RotationLauncher {
  readonly #client: SFNClient;
  readonly #stateMachineArn: string;

  constructor(options: StepFunctionsRotationLauncherOptions) {
    this.#client = options.client;
    this.#stateMachineArn = options.stateMachineArn;
  }

  /**
   * @throws DependencyUnavailableError when Step Functions throttles, fails on its side or cannot be reached past the
   * SDK's retries; TransientRotationError for another failure a retry may cure; InternalError for any other refusal
   * (missing state machine, denied), naming the SDK error.
   */
  async launch(input: RotationExecutionInput): Promise<void> {
    try {
      await this.#client.send(
        new StartExecutionCommand({
          stateMachineArn: this.#stateMachineArn,
          name: executionNameOf(input.RotationId),
          input: JSON.stringify(input),
        }),
      );
    } catch (err) {
      if (awsErrorName(err) === 'ExecutionAlreadyExists') return;
      throw requestFailure('Step Functions', 'StartExecution', err, 'the rotation was not started');
    }
  }
}
