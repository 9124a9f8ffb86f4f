import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { faultClockFile, fileOffsetClock } from '../../../../lambdas/entrypoints/local/fault-clock.ts';

describe('Function: fileOffsetClock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-fault-clock-'));
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
  });
  afterEach(() => {
    vi.useRealTimers();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is wall time while the offset file is missing', () => {
    const { clock, stop } = fileOffsetClock(faultClockFile(dir));
    expect(clock.now()).toBe(Date.now());
    stop();
  });

  it('follows the offset file forward and back, and drops the offset when the file goes', () => {
    const file = faultClockFile(dir);
    writeFileSync(file, String(3 * 3_600_000));
    const { clock, stop } = fileOffsetClock(file, 100);
    expect(clock.now() - Date.now()).toBe(3 * 3_600_000);
    writeFileSync(file, '-7200000\n');
    vi.advanceTimersByTime(100);
    expect(clock.now() - Date.now()).toBe(-7_200_000);
    rmSync(file);
    vi.advanceTimersByTime(100);
    expect(clock.now()).toBe(Date.now());
    stop();
  });

  it('ignores a file that is not an integer number of milliseconds', () => {
    const file = faultClockFile(dir);
    writeFileSync(file, '3h');
    const { clock, stop } = fileOffsetClock(file);
    expect(clock.now()).toBe(Date.now());
    stop();
  });
});
