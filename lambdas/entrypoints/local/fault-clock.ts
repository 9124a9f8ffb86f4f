import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../../core/ports/clock.ts';

/** Where a drill writes the node's clock offset, inside the data directory. */
export function faultClockFile(dataDir: string): string {
  return path.join(dataDir, 'fault-clock-offset-ms');
}

/**
 * The node's clock for clock-jump drills (`COFFER_FAULT_INJECTION=1` only): wall time plus an offset in milliseconds
 * read from {@link faultClockFile}, so a drill can move the node's clock forward or back by hours without touching
 * the machine's, which every other process on it shares. The file is read again every `pollMs` (a timer that keeps
 * no process alive); a missing or unparseable file means no offset, so a drill ends by deleting it.
 */
export function fileOffsetClock(file: string, pollMs = 100): { readonly clock: Clock; stop(): void } {
  let offset = readOffset(file);
  const timer = setInterval(() => {
    offset = readOffset(file);
  }, pollMs);
  timer.unref();
  return { clock: { now: () => Date.now() + offset }, stop: () => clearInterval(timer) };
}

function readOffset(file: string): number {
  try {
    const value = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(value) ? value : 0;
  } catch {
    return 0;
  }
}
