import { type EventBridgeClient, PutEventsCommand, type PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';
import { InternalError } from '../../../core/errors.ts';
import type { RotationEventPublisher } from '../../../core/ports/rotation.ts';
import { TransientRotationError } from '../../../core/rotation/rotation-types.ts';
import { ROTATION_EVENTS } from '../../../core/rotation/rotation-workflow.ts';
import { awsFailure } from './aws-failure.ts';

/** Entry error codes of PutEvents worth a retry (the entry was not put, but may be if tried again). */
const TRANSIENT_ENTRY_CODES: ReadonlySet<string> = new Set(['ThrottlingException', 'InternalFailure']);

export interface EventBridgeRotationEventsOptions {
  /** The EventBridge client, injected so tests can point it at an emulator or mock it. */
  readonly client: EventBridgeClient;
  /** The bus the rotation events go to (name or ARN). @default 'default' */
  readonly eventBusName?: string;
}

/**
 * The AWS {@link RotationEventPublisher}: one `PutEvents` entry per event, with source `coffer.rotation`
 * ({@link ROTATION_EVENTS}.source), the given detail type and the detail as JSON. PutEvents can accept a request
 * and still drop its entry (`FailedEntryCount` > 0); that is a failure here, so an event is never lost silently.
 *
 * @example
 * ```ts
 * const events = new EventBridgeRotationEvents({ client: new EventBridgeClient({}), eventBusName: 'coffer' });
 * await events.publish(ROTATION_EVENTS.failed, { rotationId, secrets, failedStep: 'setSecret' });
 * ```
 */
export class EventBridgeRotationEvents implements RotationEventPublisher {
  readonly #client: EventBridgeClient;
  readonly #eventBusName: string;

  constructor(options: EventBridgeRotationEventsOptions) {
    this.#client = options.client;
    this.#eventBusName = options.eventBusName ?? 'default';
  }

  /**
   * @throws TransientRotationError when EventBridge throttles, fails on its side, or drops the entry for one of
   * those reasons; InternalError for any other refusal, naming the error code.
   */
  async publish(detailType: string, detail: Readonly<Record<string, unknown>>): Promise<void> {
    let output: PutEventsCommandOutput;
    try {
      output = await this.#client.send(
        new PutEventsCommand({
          Entries: [
            {
              Source: ROTATION_EVENTS.source,
              DetailType: detailType,
              Detail: JSON.stringify(detail),
              EventBusName: this.#eventBusName,
            },
          ],
        }),
      );
    } catch (err) {
      throw awsFailure('EventBridge', 'PutEvents', err);
    }
    if ((output.FailedEntryCount ?? 0) === 0) return;
    const code = output.Entries?.find((entry) => entry.ErrorCode !== undefined)?.ErrorCode ?? 'unknown';
    const message = `EventBridge PutEvents did not put the ${detailType} event (${code})`;
    throw TRANSIENT_ENTRY_CODES.has(code) ? new TransientRotationError(message) : new InternalError(message);
  }
}
