import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  LocalRotationRunner,
  type LocalRotationRunnerOptions,
} from '../../lambdas/adapters/local/rotation-runner/local-rotation-runner.ts';
import { MemoryAuditSink } from '../../lambdas/adapters/memory/memory-audit-sink.ts';
import { MemoryStore } from '../../lambdas/adapters/memory/memory-store.ts';
import { AuditHasher } from '../../lambdas/core/audit/audit-hmac.ts';
import { AuditLog } from '../../lambdas/core/audit/audit-log.ts';
import { ValidationError } from '../../lambdas/core/errors.ts';
import type { RotationEventPublisher, RotationScheduleSync } from '../../lambdas/core/ports/rotation.ts';
import type { Store } from '../../lambdas/core/ports/store.ts';
import { RotationService } from '../../lambdas/core/rotation/rotation-service.ts';
import type {
  RevocationHandle,
  RotationRules,
  Rotator,
  RotatorContext,
  RotatorRegistry,
} from '../../lambdas/core/rotation/rotation-types.ts';
import { SecretService } from '../../lambdas/core/secrets/secret-service.ts';
import type { SecretValue } from '../../lambdas/core/secrets/secret-types.ts';
import { loopbackEgress } from './egress.ts';
import { FakeKeyProvider } from './fake-key-provider.ts';

/** The state-machine definition CDK synthesises, as committed (a drift test keeps it equal to the synth). */
export const ROTATION_DEFINITION = JSON.parse(
  readFileSync(
    new URL('../../lambdas/core/rotation/workflow/rotation-state-machine.asl.json', import.meta.url),
    'utf8',
  ),
) as Record<string, unknown>;

/**
 * A target that accepts API-key-like credentials (`{ keyId, key }`), standing in for a database or a key service
 * in tests of the rotation core: a key works once set there, until removed.
 */
export class FakeTarget {
  readonly keys = new Map<string, string>();
  /** Calls, in order, for assertions on what each step did. */
  readonly calls: string[] = [];
  works(value: SecretValue | undefined): boolean {
    if (value === undefined || value.kind !== 'string') return false;
    const { keyId, key } = JSON.parse(value.string) as { keyId: string; key: string };
    return this.keys.get(keyId) === key;
  }
}

type FakeSettings = { overlapMs: number };

function parse(value: SecretValue): { keyId: string; key: string } {
  if (value.kind !== 'string') throw new ValidationError('not a string value');
  return JSON.parse(value.string) as { keyId: string; key: string };
}

export function keyValue(keyId: string = randomUUID(), key = randomBytes(16).toString('hex')): SecretValue {
  return { kind: 'string', string: JSON.stringify({ keyId, key }) };
}

/** A rotator over {@link FakeTarget}; `gate` lets a test hold a step open (to observe or kill mid-rotation). */
export function fakeRotator(
  target: FakeTarget,
  hooks: { beforeStep?: (step: string, ctx: RotatorContext<FakeSettings>) => Promise<void> | void } = {},
): Rotator<FakeSettings> & { type: 'api-key-coffer' } {
  const before = async (step: string, ctx: RotatorContext<FakeSettings>) => {
    target.calls.push(`${step}:${ctx.secretName}`);
    await hooks.beforeStep?.(step, ctx);
  };
  return {
    type: 'api-key-coffer',
    references: () => [],
    parseSettings(input: unknown): FakeSettings {
      const overlapMs = (input as { overlapMs?: unknown } | undefined)?.overlapMs ?? 60_000;
      if (typeof overlapMs !== 'number' || overlapMs < 0) throw new ValidationError('overlapMs must be a number ≥ 0');
      return { overlapMs };
    },
    async createValue(ctx) {
      await before('createSecret', ctx);
      return keyValue(`k-${ctx.token.slice(0, 8)}-${ctx.secretName}`);
    },
    async setSecret(ctx, pending) {
      await before('setSecret', ctx);
      const { keyId, key } = parse(pending);
      target.keys.set(keyId, key);
    },
    async testSecret(ctx, pending) {
      await before('testSecret', ctx);
      if (!target.works(pending)) throw new Error('pending key does not work');
    },
    async rollback(ctx, pending) {
      target.calls.push(`rollback:${ctx.secretName}`);
      if (pending !== undefined) target.keys.delete(parse(pending).keyId);
    },
    retire(ctx, previous): { handle: RevocationHandle; afterMs?: number } {
      return { handle: { keyId: parse(previous).keyId }, afterMs: ctx.settings.overlapMs };
    },
    async revoke(_settings, handle) {
      target.calls.push(`revoke:${handle.keyId}`);
      target.keys.delete(handle.keyId ?? '');
    },
  };
}

export class RecordingEvents implements RotationEventPublisher {
  readonly events: { detailType: string; detail: Record<string, unknown> }[] = [];
  async publish(detailType: string, detail: Readonly<Record<string, unknown>>): Promise<void> {
    this.events.push({ detailType, detail: { ...detail } });
  }
}

export class RecordingSchedules implements RotationScheduleSync {
  readonly schedules = new Map<string, RotationRules>();
  async put(name: string, rules: RotationRules): Promise<void> {
    this.schedules.set(name, rules);
  }
  async delete(name: string): Promise<void> {
    this.schedules.delete(name);
  }
}

export interface RotationHarness {
  readonly store: Store;
  readonly secrets: SecretService;
  readonly rotation: RotationService;
  readonly runner: LocalRotationRunner;
  readonly events: RecordingEvents;
  readonly schedules: RecordingSchedules;
  readonly sink: MemoryAuditSink;
  readonly clock: { now: () => number; advance: (ms: number) => void };
  /** A second node over the same store: what a restart after a crash sees, or another node sharing the store. */
  restart(rotators?: RotatorRegistry, runner?: RunnerClaims): RotationHarness;
}

/** How a harness node's runner coordinates with other nodes on the store. @default the store's only node */
export type RunnerClaims = Pick<LocalRotationRunnerOptions, 'claims' | 'claimTtlMs' | 'heartbeatMs'>;

/**
 * A rotation service over in-memory adapters whose launcher is the real local runner executing the committed
 * (CDK-synthesised) definition, with instant retries.
 */
export function rotationHarness(
  rotators: RotatorRegistry,
  shared?: { store: MemoryStore; keyProvider: FakeKeyProvider; clock: RotationHarness['clock'] },
  definition: Record<string, unknown> = ROTATION_DEFINITION,
  runnerClaims: RunnerClaims = {},
): RotationHarness {
  let time = Date.UTC(2026, 10, 29, 12, 0, 0);
  const clock = shared?.clock ?? {
    now: () => time,
    advance: (ms: number) => {
      time += ms;
    },
  };
  const store = shared?.store ?? new MemoryStore();
  const keyProvider = shared?.keyProvider ?? new FakeKeyProvider();
  const secrets = new SecretService({ store, keyProvider, clock });
  const sink = new MemoryAuditSink();
  const audit = new AuditLog({ sink, hasher: new AuditHasher(randomBytes(32)) });
  const events = new RecordingEvents();
  const schedules = new RecordingSchedules();
  let service: RotationService | undefined;
  const runner = new LocalRotationRunner({
    definition,
    step: (input) => (service as RotationService).runStep(input),
    events,
    retryIntervalMs: 0,
    ...runnerClaims,
  });
  service = new RotationService({
    store,
    secrets,
    clock,
    rotators,
    launcher: runner,
    schedules,
    events,
    audit,
    egress: loopbackEgress(),
  });
  return {
    store,
    secrets,
    rotation: service,
    runner,
    events,
    schedules,
    sink,
    clock,
    restart: (next = rotators, runner = {}) => rotationHarness(next, { store, keyProvider, clock }, definition, runner),
  };
}

/** A registry where every type is the fake rotator (the core does not care which type it runs). */
export function fakeRegistry(rotator: Rotator<FakeSettings> & { type: 'api-key-coffer' }): RotatorRegistry {
  const as = <T extends string>(type: T) => ({ ...rotator, type }) as Rotator<FakeSettings> & { type: T };
  return {
    'postgres-single': as('postgres-single'),
    'postgres-alternating': as('postgres-alternating'),
    'api-key-http': as('api-key-http'),
    'api-key-coffer': rotator,
    certificate: as('certificate'),
  };
}

/**
 * The grant a test's rotation configs are recorded with, as a caller authorised for every reference would give it
 * (tests that configure through the broker get the real caller's).
 */
export const TEST_GRANT = {
  grantedBy: { type: 'token', id: 'hmac-sha256:test', displayName: 'test' },
  requestId: 'test-request',
} as const;
