import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import type { Clock } from '../../../../lambdas/core/ports/clock.ts';
import { SecretService, type SecretServiceOptions } from '../../../../lambdas/core/secrets/secret-service.ts';
import type { SecretValue } from '../../../../lambdas/core/secrets/secret-types.ts';
import { FakeKeyProvider } from '../../../support/fake-key-provider.ts';

export const HOUR = 60 * 60 * 1000;
export const DAY = 24 * HOUR;

/** A clock that only moves when told to. */
export class FakeClock implements Clock {
  constructor(private time = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

/**
 * A secret service on an in-memory store, a fake key provider and a fake clock. The write rate is unlimited unless
 * given: the clock stands still, so a rate limit would refuse every write past the burst.
 */
export function setup(options: Omit<SecretServiceOptions, 'store' | 'keyProvider' | 'clock'> = {}) {
  const store = new MemoryStore();
  const keys = new FakeKeyProvider();
  const clock = new FakeClock();
  const secrets = new SecretService({ store, keyProvider: keys, clock, writeRate: 'unlimited', ...options });
  return { store, keys, clock, secrets };
}

export const str = (string: string): SecretValue => ({ kind: 'string', string });
export const bin = (binary: Buffer): SecretValue => ({ kind: 'binary', binary });

/** A valid client request token (32–64 chars) derived from a short tag, so tests read well. */
export const token = (tag: string): string => `tok-${tag}`.padEnd(36, '0');

/** Every item of every partition of a MemoryStore, for white-box checks. */
export function allItems(store: MemoryStore) {
  const partitions = (
    store as unknown as { partitions: Map<string, Map<string, { pk: string; sk: string; data: unknown }>> }
  ).partitions;
  return [...partitions.values()].flatMap((p) => [...p.values()]);
}
