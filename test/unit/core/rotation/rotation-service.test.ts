import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConflictError, InvalidRequestError, ValidationError } from '../../../../lambdas/core/errors.ts';
import { parseRotationFaults, withRotationFaults } from '../../../../lambdas/core/rotation/rotation-faults.ts';
import { ROTATION_STEPS, type RotationStep } from '../../../../lambdas/core/rotation/rotation-types.ts';
import { ROTATION_EVENTS } from '../../../../lambdas/core/rotation/rotation-workflow.ts';
import type { SecretValue } from '../../../../lambdas/core/secrets/secret-types.ts';
import {
  FakeTarget,
  fakeRegistry,
  fakeRotator,
  keyValue,
  type RotationHarness,
  rotationHarness,
  TEST_GRANT,
} from '../../../support/rotation-harness.ts';
import { waitFor } from '../../../support/wait-for.ts';

const DAY = 86_400_000;

async function setup(options: { faults?: string; overlapMs?: number; gate?: Promise<void>; gateStep?: string } = {}) {
  const target = new FakeTarget();
  const rotator = fakeRotator(target, {
    beforeStep: async (step) => {
      if (options.gate !== undefined && step === options.gateStep) await options.gate;
    },
  });
  const registry = withRotationFaults(fakeRegistry(rotator), parseRotationFaults(options.faults));
  const h = rotationHarness(registry);
  return { h, target, registry };
}

/** Creates a secret whose current key already works at the target, with rotation configured. */
async function secretWithKey(h: RotationHarness, target: FakeTarget, name = `app/${randomUUID().slice(0, 8)}`) {
  const keyId = `initial-${name}`;
  const value = keyValue(keyId);
  target.keys.set(keyId, JSON.parse((value as { string: string }).string).key);
  await h.secrets.create({ name, value });
  await h.rotation.configure({
    grant: TEST_GRANT,
    secretId: name,
    type: 'api-key-coffer',
    settings: { overlapMs: 60_000 },
  });
  return { name, value };
}

async function labels(h: RotationHarness, name: string) {
  const described = await h.secrets.describe({ secretId: name });
  const find = (label: string) => Object.entries(described.versionIdsToStages).find(([, l]) => l.includes(label))?.[0];
  return { current: find('AWSCURRENT'), previous: find('AWSPREVIOUS'), pending: find('AWSPENDING') };
}

async function valueAt(h: RotationHarness, name: string, stage: string): Promise<SecretValue> {
  return (await h.secrets.get({ secretId: name, versionStage: stage })).value;
}

describe('RotationService with the local runner executing the synthesised definition', () => {
  it('rotates through the four steps in order and moves the labels in one go', async () => {
    const { h, target } = await setup();
    const { name, value } = await secretWithKey(h, target);
    const before = await labels(h, name);
    const started = await h.rotation.rotate({ secretId: name, trigger: 'on-demand' });
    expect(started.started).toBe(true);
    await h.runner.idle();
    expect(target.calls).toEqual([`createSecret:${name}`, `setSecret:${name}`, `testSecret:${name}`]);
    const after = await labels(h, name);
    expect(after.current).toBe(started.rotationId);
    expect(after.previous).toBe(before.current);
    expect(after.pending).toBeUndefined();
    expect(target.works(await valueAt(h, name, 'AWSCURRENT'))).toBe(true);
    expect(await valueAt(h, name, 'AWSPREVIOUS')).toEqual(value);
    const record = await h.rotation.rotation(started.rotationId);
    expect(record.status).toBe('succeeded');
    expect((await h.rotation.config(name)).lastStatus).toBe('succeeded');
    // The lock is released: another rotation may start.
    expect((await h.rotation.rotate({ secretId: name, trigger: 'on-demand' })).started).toBe(true);
    await h.runner.idle();
  });

  it('keeps the previous key valid for the overlap, then revokes it', async () => {
    const { h, target } = await setup();
    const { name, value } = await secretWithKey(h, target);
    await h.rotation.rotate({ secretId: name, trigger: 'on-demand' });
    await h.runner.idle();
    expect(target.works(value)).toBe(true);
    expect(await h.rotation.sweepRevocations()).toEqual({ revoked: 0, failed: 0 });
    expect(target.works(value)).toBe(true);
    expect(await h.rotation.pendingRevocations()).toHaveLength(1);
    h.clock.advance(60_001);
    expect(await h.rotation.sweepRevocations()).toEqual({ revoked: 1, failed: 0 });
    expect(target.works(value)).toBe(false);
    expect(target.works(await valueAt(h, name, 'AWSCURRENT'))).toBe(true);
    expect(await h.rotation.pendingRevocations()).toHaveLength(0);
  });

  it('is idempotent by client request token: the same token never starts a second rotation', async () => {
    const { h, target } = await setup();
    const { name } = await secretWithKey(h, target);
    const token = randomUUID();
    const first = await h.rotation.rotate({ secretId: name, clientRequestToken: token, trigger: 'on-demand' });
    const second = await h.rotation.rotate({ secretId: name, clientRequestToken: token, trigger: 'on-demand' });
    await h.runner.idle();
    expect(first).toMatchObject({ rotationId: token, started: true });
    expect(second).toMatchObject({ rotationId: token, started: false });
    expect(target.calls.filter((c) => c.startsWith('createSecret'))).toHaveLength(1);
    const third = await h.rotation.rotate({ secretId: name, clientRequestToken: token, trigger: 'on-demand' });
    expect(third.started).toBe(false);
    expect((await labels(h, name)).current).toBe(token);
  });

  it('refuses a second rotation while one is in progress, with a clear error', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const { h, target } = await setup({ gate, gateStep: 'setSecret' });
    const { name } = await secretWithKey(h, target);
    const first = await h.rotation.rotate({ secretId: name, trigger: 'on-demand' });
    const error = await h.rotation.rotate({ secretId: name, trigger: 'on-demand' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as Error).message).toMatch(/in progress/);
    expect((error as Error).message).toContain(first.rotationId);
    open();
    await h.runner.idle();
    expect((await h.rotation.rotation(first.rotationId)).status).toBe('succeeded');
  });

  it.each(ROTATION_STEPS)(
    'a failure at %s rolls back: current works, no AWSPENDING, event and audit record',
    async (step: RotationStep) => {
      const { h, target } = await setup({ faults: `*:${step}:fail` });
      const { name, value } = await secretWithKey(h, target);
      const before = await labels(h, name);
      const started = await h.rotation.rotate({ secretId: name, trigger: 'on-demand' });
      await h.runner.idle();
      const after = await labels(h, name);
      expect(after).toEqual({ current: before.current, previous: before.previous, pending: undefined });
      expect(await valueAt(h, name, 'AWSCURRENT')).toEqual(value);
      expect(target.works(value)).toBe(true);
      // Whatever the failed rotation had set at the target is gone again.
      expect(target.keys.size).toBe(1);
      const record = await h.rotation.rotation(started.rotationId);
      expect(record).toMatchObject({ status: 'failed', step, error: 'RotationStepError' });
      expect(record.message).toContain(`injected fault at ${step}`);
      const failure = h.events.events.find((e) => e.detailType === ROTATION_EVENTS.failed);
      expect(failure?.detail).toMatchObject({ Failure: { rotationId: started.rotationId, failedStep: step } });
      const audit = h.sink.records().find((r) => r.operation === 'rotation.failed');
      expect(audit).toMatchObject({ path: `secrets/${name}`, outcome: 'error' });
      expect((await h.rotation.config(name)).lastStatus).toBe('failed');
      // And the lock is free again.
      expect((await h.rotation.rotate({ secretId: name, trigger: 'on-demand' })).started).toBe(true);
    },
  );

  it('retries a transient failure with backoff and then succeeds', async () => {
    const { h, target } = await setup({ faults: '*:setSecret:transient:2' });
    const { name } = await secretWithKey(h, target);
    const started = await h.rotation.rotate({ secretId: name, trigger: 'on-demand' });
    await h.runner.idle();
    expect((await h.rotation.rotation(started.rotationId)).status).toBe('succeeded');
    expect(target.calls.filter((c) => c.startsWith('setSecret'))).toHaveLength(3);
  });

  it('rotates a coordinated group together, and rolls every member back when one fails', async () => {
    const { h, target } = await setup();
    const a = await secretWithKey(h, target);
    const b = await secretWithKey(h, target);
    await h.rotation.putGroup('svc', [a.name, b.name]);
    const ok = await h.rotation.rotate({ secretId: b.name, trigger: 'on-demand' });
    expect(ok.secrets).toEqual([a.name, b.name]);
    await h.runner.idle();
    expect((await labels(h, a.name)).current).toBe(ok.rotationId);
    expect((await labels(h, b.name)).current).toBe(ok.rotationId);

    // The second member fails at finishSecret, after the first already finished: both go back.
    const failing = await setup({ faults: 'api-key-coffer:finishSecret:fail:1' });
    const c = await secretWithKey(failing.h, failing.target);
    const d = await secretWithKey(failing.h, failing.target);
    await failing.h.rotation.putGroup('svc2', [c.name, d.name]);
    const cBefore = await labels(failing.h, c.name);
    const dBefore = await labels(failing.h, d.name);
    const bad = await failing.h.rotation.rotate({ secretId: c.name, trigger: 'on-demand' });
    await failing.h.runner.idle();
    expect((await failing.h.rotation.rotation(bad.rotationId)).status).toBe('failed');
    expect(await labels(failing.h, c.name)).toEqual({ ...cBefore, pending: undefined });
    expect(await labels(failing.h, d.name)).toEqual({ ...dBefore, pending: undefined });
    expect(failing.target.works(c.value)).toBe(true);
    expect(failing.target.works(d.value)).toBe(true);
  });

  it('a breach rotates at once and revokes the compromised key with no grace period', async () => {
    const { h, target } = await setup();
    const { name, value } = await secretWithKey(h, target);
    const started = await h.rotation.compromised({ secretId: name, reason: 'leaked in a CI log' });
    await h.runner.idle();
    expect((await h.rotation.rotation(started.rotationId)).trigger).toBe('breach');
    expect(target.works(value)).toBe(false);
    expect(target.works(await valueAt(h, name, 'AWSCURRENT'))).toBe(true);
    expect(h.events.events.map((e) => e.detailType)).toContain(ROTATION_EVENTS.compromised);
    const ops = h.sink.records().map((r) => r.operation);
    expect(ops).toEqual(expect.arrayContaining(['rotation.compromised', 'rotation.revoke', 'rotation.succeeded']));
  });

  it('starts due scheduled rotations (missed ones at once) and computes the next due time', async () => {
    const { h, target } = await setup();
    const { name } = await secretWithKey(h, target);
    await h.rotation.configure({
      grant: TEST_GRANT,
      secretId: name,
      type: 'api-key-coffer',
      settings: {},
      rules: { automaticallyAfterDays: 7 },
    });
    expect(h.schedules.schedules.get(name)).toEqual({ automaticallyAfterDays: 7 });
    expect(await h.rotation.rotateDue()).toEqual([]);
    // The node was "down" past the due time: the missed rotation runs at the first tick.
    h.clock.advance(9 * DAY);
    const first = await h.rotation.rotateDue();
    expect(first.map((s) => s.secrets)).toEqual([[name]]);
    await h.runner.idle();
    const config = await h.rotation.config(name);
    expect(config.nextRotationAt).toBe((config.lastRotatedAt ?? 0) + 7 * DAY);
    expect(await h.rotation.rotateDue()).toEqual([]);
    h.clock.advance(7 * DAY + 1);
    expect((await h.rotation.rotateDue()).length).toBe(1);
    await h.runner.idle();
    const disabled = await h.rotation.disable(name);
    expect(disabled?.enabled).toBe(false);
    expect(h.schedules.schedules.has(name)).toBe(false);
    h.clock.advance(30 * DAY);
    expect(await h.rotation.rotateDue()).toEqual([]);
  });

  it('waits 15 minutes before retrying a failed scheduled rotation, while the secret stays overdue', async () => {
    const { h, target } = await setup({ faults: '*:testSecret:fail:1' });
    const { name } = await secretWithKey(h, target);
    await h.rotation.configure({
      grant: TEST_GRANT,
      secretId: name,
      type: 'api-key-coffer',
      rules: { automaticallyAfterDays: 1 },
    });
    h.clock.advance(3 * DAY);
    expect(await h.rotation.rotateDue()).toHaveLength(1);
    await h.runner.idle();
    expect((await h.rotation.config(name)).lastStatus).toBe('failed');
    expect(await h.rotation.rotateDue()).toEqual([]);
    expect((await h.rotation.status()).overdue.map((o) => o.name)).toEqual([name]);
    h.clock.advance(15 * 60_000 + 1);
    expect(await h.rotation.rotateDue()).toHaveLength(1);
    await h.runner.idle();
    expect((await h.rotation.config(name)).lastStatus).toBe('succeeded');
    expect((await h.rotation.status()).overdue).toEqual([]);
  });

  it('a restarted node resumes an interrupted rotation from the store and finishes it', async () => {
    const stall = new Promise<void>(() => {});
    const { h, target } = await setup({ gate: stall, gateStep: 'testSecret' });
    const { name, value } = await secretWithKey(h, target);
    const started = await h.rotation.rotate({ secretId: name, trigger: 'on-demand' });
    // Wait until the first node is stuck in testSecret: the pending key is already set at the target.
    await waitFor('the first node to reach testSecret', () => target.calls.includes(`testSecret:${name}`));
    expect((await labels(h, name)).pending).toBe(started.rotationId);
    // "Kill" it: a new node over the same store, with a rotator that does not stall.
    const restarted = h.restart(fakeRegistry(fakeRotator(target)));
    const interrupted = await restarted.rotation.interrupted();
    expect(interrupted.map((i) => i.RotationId)).toEqual([started.rotationId]);
    for (const input of interrupted) await restarted.runner.launch(input);
    await restarted.runner.idle();
    expect((await restarted.rotation.rotation(started.rotationId)).status).toBe('succeeded');
    const after = await labels(restarted, name);
    expect(after.current).toBe(started.rotationId);
    expect(after.pending).toBeUndefined();
    expect(await valueAt(restarted, name, 'AWSPREVIOUS')).toEqual(value);
    // createSecret was not redone: one pending value, created once.
    expect(target.calls.filter((c) => c.startsWith('createSecret'))).toHaveLength(1);
  });

  it('refuses to rotate a secret without a config, or one where AWSPENDING sits on another version', async () => {
    const { h, target } = await setup();
    await h.secrets.create({ name: 'plain', value: keyValue() });
    await expect(h.rotation.rotate({ secretId: 'plain', trigger: 'on-demand' })).rejects.toBeInstanceOf(
      InvalidRequestError,
    );
    const { name } = await secretWithKey(h, target);
    await h.secrets.put({ secretId: name, value: keyValue(), versionStages: ['AWSPENDING'] });
    await expect(h.rotation.rotate({ secretId: name, trigger: 'on-demand' })).rejects.toThrow(/in progress/);
  });

  it('validates configs: type, settings and rules are named in the error', async () => {
    const { h, target } = await setup();
    const { name } = await secretWithKey(h, target);
    await expect(
      h.rotation.configure({ grant: TEST_GRANT, secretId: name, type: 'nope' as 'certificate', settings: {} }),
    ).rejects.toThrow(/type must be one of/);
    await expect(
      h.rotation.configure({ grant: TEST_GRANT, secretId: name, type: 'api-key-coffer', settings: { overlapMs: -1 } }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(
      h.rotation.configure({
        grant: TEST_GRANT,
        secretId: name,
        type: 'api-key-coffer',
        rules: { automaticallyAfterDays: 0 },
      }),
    ).rejects.toBeInstanceOf(ValidationError);
  });

  it('reports compliance: on-schedule share, overdue secrets, success rate and time to rotate', async () => {
    const { h, target } = await setup({ faults: '*:testSecret:fail:1' });
    const a = await secretWithKey(h, target);
    const b = await secretWithKey(h, target);
    await h.rotation.configure({
      grant: TEST_GRANT,
      secretId: a.name,
      type: 'api-key-coffer',
      rules: { automaticallyAfterDays: 1 },
    });
    await h.rotation.configure({
      grant: TEST_GRANT,
      secretId: b.name,
      type: 'api-key-coffer',
      rules: { automaticallyAfterDays: 1 },
    });
    await h.rotation.rotate({ secretId: a.name, trigger: 'on-demand' }); // fails (injected once)
    await h.runner.idle();
    await h.rotation.rotate({ secretId: a.name, trigger: 'on-demand' });
    await h.runner.idle();
    h.clock.advance(2 * DAY);
    const status = await h.rotation.status();
    expect(status.rotations).toMatchObject({ total: 2, succeeded: 1, failed: 1, successRate: 0.5 });
    expect(status.overdue.map((o) => o.name).sort()).toEqual([a.name, b.name].sort());
    expect(status.meanTimeToRotateMs).toBeGreaterThanOrEqual(0);
  });
});
