import { appendFile } from 'node:fs/promises';
import type { Clock } from '../../../core/ports/clock.ts';
import type { RotationEventPublisher } from '../../../core/ports/rotation.ts';
import { ROTATION_EVENTS } from '../../../core/rotation/rotation-workflow.ts';

/**
 * The local node's event bus: one JSON line per event, in EventBridge's envelope (`source`, `detail-type`, `time`,
 * `detail`), appended to `events.jsonl` in the data directory, so an operator or a log shipper can watch for
 * `Coffer Rotation Failed` without polling the API. Details never hold secret values.
 */
export class FileEventPublisher implements RotationEventPublisher {
  constructor(
    private readonly path: string,
    private readonly clock: Clock,
    private readonly notify?: (line: string) => void,
  ) {}

  async publish(detailType: string, detail: Readonly<Record<string, unknown>>): Promise<void> {
    const line = JSON.stringify({
      source: ROTATION_EVENTS.source,
      'detail-type': detailType,
      time: new Date(this.clock.now()).toISOString(),
      detail,
    });
    await appendFile(this.path, `${line}\n`, { mode: 0o600 });
    this.notify?.(line);
  }
}

/** Local schedules live in the rotation configs themselves (the local scheduler reads them), so syncing is a no-op. */
export const storeBackedSchedules = {
  put: async (): Promise<void> => {},
  delete: async (): Promise<void> => {},
};
