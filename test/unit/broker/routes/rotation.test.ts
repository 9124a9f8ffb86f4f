import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { Broker } from '../../../../lambdas/broker/broker.ts';
import type { BrokerDeps } from '../../../../lambdas/broker/broker-deps.ts';
import { nativeRoutes } from '../../../../lambdas/broker/routes/index.ts';
import { ValidationError } from '../../../../lambdas/core/errors.ts';
import type { RotationEventPublisher, RotationLauncher } from '../../../../lambdas/core/ports/rotation.ts';
import { ROTATION_CONFIG_PK } from '../../../../lambdas/core/rotation/rotation-records.ts';
import { RotationService } from '../../../../lambdas/core/rotation/rotation-service.ts';
import {
  ROTATION_STEPS,
  type RotationStep,
  type Rotator,
  type RotatorContext,
  type RotatorRegistry,
} from '../../../../lambdas/core/rotation/rotation-types.ts';
import type { RotationExecutionInput } from '../../../../lambdas/core/rotation/rotation-workflow.ts';
import type { SecretValue } from '../../../../lambdas/core/secrets/secret-types.ts';
import { loopbackEgress } from '../../../support/egress.ts';
import { memoryNode, request } from '../../../support/memory-node.ts';

const DAY = 86_400_000;

// biome-ignore lint/suspicious/noExplicitAny: response JSON, asserted field by field.
type Json = Record<string, any>;

/** A key service standing in for a rotation target: keys work once set, until revoked. */
class KeyTarget {
  readonly keys = new Set<string>();
  readonly revoked: string[] = [];
  failAt: RotationStep | undefined;
  fail(step: RotationStep): void {
    if (this.failAt === step) throw new Error(`the key service refused ${step}`);
  }
}

type KeyValue = { keyId: string; apiKey: string };
const parseKey = (value: SecretValue): KeyValue => JSON.parse(value.kind === 'string' ? value.string : '{}');

/** A trivial API-key rotator (the value is `{keyId, apiKey}`), checked against the real `Rotator` contract. */
function keyRotator(target: KeyTarget): Rotator<{ overlapSeconds: number }> & { type: 'api-key-coffer' } {
  const Settings = z.object({ overlapSeconds: z.number().int().min(0).default(60) }).strict();
  return {
    type: 'api-key-coffer',
    references: () => [],
    parseSettings(input) {
      const parsed = Settings.safeParse(input);
      if (!parsed.success) throw new ValidationError('invalid settings: overlapSeconds');
      return parsed.data;
    },
    async createValue(ctx: RotatorContext<{ overlapSeconds: number }>) {
      target.fail('createSecret');
      return { kind: 'string', string: JSON.stringify({ keyId: `k-${ctx.token}`, apiKey: randomUUID() }) };
    },
    async setSecret(_ctx, pending) {
      target.fail('setSecret');
      target.keys.add(parseKey(pending).apiKey);
    },
    async testSecret(_ctx, pending) {
      target.fail('testSecret');
      if (!target.keys.has(parseKey(pending).apiKey)) throw new Error('the pending key does not work');
    },
    async rollback(_ctx, pending) {
      if (pending !== undefined) target.keys.delete(parseKey(pending).apiKey);
    },
    retire(ctx, previous) {
      return { handle: { keyId: parseKey(previous).keyId }, afterMs: ctx.settings.overlapSeconds * 1000 };
    },
    async revoke(_settings, handle) {
      target.revoked.push(handle.keyId ?? '');
    },
  };
}

function registry(target: KeyTarget): RotatorRegistry {
  const rotator = keyRotator(target);
  const as = <T extends string>(type: T) => ({ ...rotator, type }) as typeof rotator & { type: T };
  return {
    'postgres-single': as('postgres-single'),
    'postgres-alternating': as('postgres-alternating'),
    'api-key-http': as('api-key-http'),
    'api-key-coffer': rotator,
    certificate: as('certificate'),
  };
}

/** Runs the four steps inline (rollback on the first error); `hold` parks executions to observe "in progress". */
class InlineLauncher implements RotationLauncher {
  service: RotationService | undefined;
  hold = false;
  readonly held: RotationExecutionInput[] = [];

  async launch(input: RotationExecutionInput): Promise<void> {
    if (this.hold) this.held.push(input);
    else await this.run(input);
  }

  async run(input: RotationExecutionInput): Promise<void> {
    const service = this.service!;
    for (const step of ROTATION_STEPS) {
      try {
        await service.runStep({ Step: step, Rotation: input });
      } catch (error) {
        const caught = error instanceof Error ? { Error: error.name, Cause: error.message } : { Error: 'Error' };
        await service.runStep({ Step: 'rollback', Rotation: { ...input, Error: caught } });
        return;
      }
    }
  }
}

const events: RotationEventPublisher = { publish: async () => {} };

async function setup() {
  let now = Date.UTC(2026, 10, 1, 12, 0, 0);
  const clock = { now: () => now };
  const node = await memoryNode(clock);
  const target = new KeyTarget();
  const launcher = new InlineLauncher();
  const rotation = new RotationService({
    store: node.store,
    secrets: node.deps.secrets,
    clock,
    rotators: registry(target),
    launcher,
    schedules: { put: async () => {}, delete: async () => {} },
    events,
    egress: loopbackEgress(),
    audit: node.deps.audit,
  });
  launcher.service = rotation;
  const deps: BrokerDeps = { ...node.deps, rotation };
  const broker = new Broker(deps, nativeRoutes(), () => {});
  const root = node.rootToken;
  const rootRecord = await node.deps.tokens.lookup({ token: root });
  const tokenFor = async (name: string, rules: { path: string; capabilities: string[] }[]) => {
    await node.deps.policies.put({ name, rules });
    return (await node.deps.tokens.create(rootRecord, { policies: [name] })).token;
  };
  const call = async (
    method: string,
    path: string,
    options: { token?: string; body?: unknown; query?: Record<string, string> } = {},
  ) => {
    const res = await broker.handle(request(method, path, { token: root, ...options }));
    return { status: res.status, body: JSON.parse(res.body || '{}') as Json };
  };
  const sm = async (operation: string, body: unknown, token = root) => {
    const req = request('POST', '/v1/aws/secretsmanager', { token, body });
    const res = await broker.handle({
      ...req,
      headers: {
        ...req.headers,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `secretsmanager.${operation}`,
      },
    });
    return { status: res.status, body: JSON.parse(res.body || '{}') as Json };
  };
  const createKeySecret = async (name: string) => {
    const apiKey = randomUUID();
    target.keys.add(apiKey);
    const value = JSON.stringify({ keyId: `initial-${name}`, apiKey });
    expect((await call('PUT', `/v1/secret/data/${name}`, { body: { value } })).status).toBe(200);
    return value;
  };
  const configure = async (name: string, body: Record<string, unknown> = {}, token = root) =>
    call('PUT', `/v1/rotation/configs/${name}`, { token, body: { type: 'api-key-coffer', ...body } });
  const valueAt = async (name: string, stage: string) =>
    (await call('GET', `/v1/secret/data/${name}`, { query: { stage } })).body.value as string | undefined;
  return {
    node,
    broker,
    rotation,
    launcher,
    target,
    call,
    sm,
    tokenFor,
    createKeySecret,
    configure,
    valueAt,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('Routes: /v1/rotation', () => {
  it('answers "rotation is not enabled on this runtime" where the node has no rotation service', async () => {
    const node = await memoryNode();
    await node.broker.handle(request('PUT', '/v1/secret/data/app/x', { token: node.rootToken, body: { value: 'v' } }));
    for (const [method, path, body] of [
      ['PUT', '/v1/rotation/configs/app/x', { type: 'api-key-coffer' }],
      ['POST', '/v1/rotation/rotate', { secretId: 'app/x' }],
      ['GET', '/v1/rotation/status', undefined],
    ] as const) {
      const res = await node.broker.handle(request(method, path, { token: node.rootToken, body }));
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).error.message).toBe('rotation is not enabled on this runtime');
    }
  });

  it('configures a secret and shows its config with ISO times; rotate is needed to change it, read to see it', async () => {
    const t = await setup();
    await t.createKeySecret('app/one');
    const reader = await t.tokenFor('reader', [{ path: 'secrets/app/*', capabilities: ['read'] }]);
    expect((await t.configure('app/one', {}, reader)).status).toBe(403);
    const put = await t.configure('app/one', {
      settings: { overlapSeconds: 30 },
      rules: { automaticallyAfterDays: 30 },
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      name: 'app/one',
      type: 'api-key-coffer',
      enabled: true,
      settings: { overlapSeconds: 30 },
      rules: { automaticallyAfterDays: 30 },
      createdAt: '2026-11-01T12:00:00.000Z',
    });
    expect(put.body.rotationId).toBeUndefined();
    expect(put.body.nextRotationAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    const got = await t.call('GET', '/v1/rotation/configs/app/one', { token: reader });
    expect(got.status).toBe(200);
    expect(got.body).toEqual(put.body);
    expect((await t.call('GET', '/v1/rotation/configs/other/x', { token: reader })).status).toBe(403);
    expect((await t.configure('app/one', { type: 'no-such-type' })).status).toBe(400);
    expect((await t.configure('app/one', { settings: { bogus: 1 } })).body.error.message).toMatch(/overlapSeconds/);
    expect((await t.configure('app/one', { rules: { automaticallyAfterDays: 0 } })).status).toBe(400);
    expect((await t.configure('app/missing')).status).toBe(404);
  });

  it('configures and rotates at once when asked: the value changes and AWSPREVIOUS keeps the old one', async () => {
    const t = await setup();
    const old = await t.createKeySecret('app/now');
    const put = await t.configure('app/now', { rotateImmediately: true });
    expect(put.status).toBe(200);
    expect(put.body.rotationId).toMatch(/^[0-9a-f-]{36}$/);
    const current = await t.valueAt('app/now', 'AWSCURRENT');
    expect(current).not.toBe(old);
    expect(t.target.keys.has(JSON.parse(current!).apiKey)).toBe(true);
    expect(await t.valueAt('app/now', 'AWSPREVIOUS')).toBe(old);
  });

  it('rotates on demand (202), idempotently by clientRequestToken (200, not started again)', async () => {
    const t = await setup();
    const old = await t.createKeySecret('app/key');
    await t.configure('app/key');
    const token = randomUUID();
    const first = await t.call('POST', '/v1/rotation/rotate', {
      body: { secretId: 'app/key', clientRequestToken: token },
    });
    expect(first).toEqual({ status: 202, body: { rotationId: token, secrets: ['app/key'], started: true } });
    const again = await t.call('POST', '/v1/rotation/rotate', {
      body: { secretId: 'app/key', clientRequestToken: token },
    });
    expect(again).toEqual({ status: 200, body: { rotationId: token, secrets: ['app/key'], started: false } });
    expect(await t.valueAt('app/key', 'AWSPREVIOUS')).toBe(old);
    const versions = await t.call('GET', '/v1/secret/versions/app/key');
    expect(
      versions.body.versions.find((v: { versionStages: string[] }) => v.versionStages.includes('AWSCURRENT')).versionId,
    ).toBe(token);
  });

  it('refuses a second rotation while one is in progress with 409, and Secrets Manager with AWS’s message', async () => {
    const t = await setup();
    await t.createKeySecret('app/busy');
    await t.configure('app/busy');
    t.launcher.hold = true;
    const first = await t.call('POST', '/v1/rotation/rotate', { body: { secretId: 'app/busy' } });
    expect(first.status).toBe(202);
    const second = await t.call('POST', '/v1/rotation/rotate', { body: { secretId: 'app/busy' } });
    expect(second.status).toBe(409);
    expect(second.body.error.message).toMatch(/rotation in progress/);
    const viaSm = await t.sm('RotateSecret', { SecretId: 'app/busy' });
    expect(viaSm).toEqual({
      status: 400,
      body: {
        __type: 'InvalidRequestException',
        message: "A previous rotation isn't complete. That rotation will be reattempted.",
      },
    });
    const running = await t.call('GET', `/v1/rotation/rotations/${first.body.rotationId}`);
    expect(running.body.status).toBe('running');
    t.launcher.hold = false;
    await t.launcher.run(t.launcher.held[0]!);
    expect((await t.call('GET', `/v1/rotation/rotations/${first.body.rotationId}`)).body.status).toBe('succeeded');
    expect((await t.call('POST', '/v1/rotation/rotate', { body: { secretId: 'app/busy' } })).status).toBe(202);
  });

  it('shows one rotation and the history without values, times as ISO; read on every secret is needed', async () => {
    const t = await setup();
    await t.createKeySecret('app/h');
    await t.configure('app/h');
    const { body } = await t.call('POST', '/v1/rotation/rotate', { body: { secretId: 'app/h' } });
    t.target.failAt = 'testSecret';
    const failed = await t.call('POST', '/v1/rotation/rotate', { body: { secretId: 'app/h' } });
    const one = await t.call('GET', `/v1/rotation/rotations/${body.rotationId}`);
    expect(one.body).toEqual({
      rotationId: body.rotationId,
      versionId: body.rotationId,
      secrets: ['app/h'],
      trigger: 'on-demand',
      status: 'succeeded',
      step: 'finishSecret',
      startedAt: '2026-11-01T12:00:00.000Z',
      finishedAt: '2026-11-01T12:00:00.000Z',
      durationMs: 0,
    });
    const bad = await t.call('GET', `/v1/rotation/rotations/${failed.body.rotationId}`);
    expect(bad.body).toMatchObject({
      status: 'failed',
      step: 'testSecret',
      message: 'the key service refused testSecret',
    });
    const history = await t.call('GET', '/v1/rotation/rotations', { query: { secretId: 'app/h' } });
    expect(history.body.rotations.map((r: { rotationId: string }) => r.rotationId).sort()).toEqual(
      [body.rotationId, failed.body.rotationId].sort(),
    );
    const current = await t.valueAt('app/h', 'AWSCURRENT');
    expect(JSON.stringify(history.body)).not.toContain(JSON.parse(current!).apiKey);
    expect((await t.call('GET', '/v1/rotation/rotations', { query: { limit: '1' } })).body.rotations).toHaveLength(1);

    const outsider = await t.tokenFor('outsider', [
      { path: 'secrets/other/*', capabilities: ['read'] },
      { path: 'sys/rotation/rotations', capabilities: ['list'] },
    ]);
    expect((await t.call('GET', `/v1/rotation/rotations/${body.rotationId}`, { token: outsider })).status).toBe(403);
    // A caller who may not list rotations cannot tell an unreadable rotation from a missing one, nor learn its secrets.
    const stranger = await t.tokenFor('stranger', [{ path: 'secrets/other/*', capabilities: ['read'] }]);
    const unreadable = await t.call('GET', `/v1/rotation/rotations/${body.rotationId}`, { token: stranger });
    const missing = await t.call('GET', `/v1/rotation/rotations/${'0'.repeat(36)}`, { token: stranger });
    expect([unreadable.status, missing.status]).toEqual([403, 403]);
    const shape = (b: Json) =>
      JSON.stringify(b)
        .replace(/"requestId":"[^"]+"/, '')
        .replace(/rotation [\w-]+/, '');
    expect(shape(unreadable.body)).toBe(shape(missing.body));
    expect(JSON.stringify(unreadable.body)).not.toContain('app/h');
    expect((await t.call('GET', `/v1/rotation/rotations/${'0'.repeat(36)}`, { token: outsider })).status).toBe(404);
    expect(
      (await t.call('GET', '/v1/rotation/rotations', { token: outsider, query: { secretId: 'app/h' } })).status,
    ).toBe(403);
    // The global history leaves out rotations of secrets the caller may not read.
    const global = await t.call('GET', '/v1/rotation/rotations', { token: outsider });
    expect(global).toEqual({ status: 200, body: { rotations: [] } });
  });

  it('authorises rotate on every member of a group before rotating it', async () => {
    const t = await setup();
    await t.createKeySecret('app/db');
    await t.createKeySecret('other/key');
    await t.configure('app/db');
    await t.configure('other/key');
    const appOnly = await t.tokenFor('app-rotator', [
      { path: 'secrets/app/*', capabilities: ['read', 'rotate'] },
      { path: 'sys/rotation/groups/*', capabilities: ['update'] },
    ]);
    const grouped = await t.call('PUT', '/v1/rotation/groups/svc', {
      token: appOnly,
      body: { members: ['app/db', 'other/key'] },
    });
    expect(grouped.status).toBe(403);
    const made = await t.call('PUT', '/v1/rotation/groups/svc', { body: { members: ['app/db', 'other/key'] } });
    expect(made.body).toMatchObject({ name: 'svc', members: ['app/db', 'other/key'] });
    expect((await t.call('GET', '/v1/rotation/configs/app/db')).body.group).toBe('svc');

    const before = await t.valueAt('other/key', 'AWSCURRENT');
    const denied = await t.call('POST', '/v1/rotation/rotate', { token: appOnly, body: { secretId: 'app/db' } });
    expect(denied.status).toBe(403);
    expect(
      (await t.call('POST', '/v1/rotation/compromised', { token: appOnly, body: { secretId: 'app/db' } })).status,
    ).toBe(403);
    const configureNow = await t.configure(
      'app/db',
      { rules: { automaticallyAfterDays: 9 }, rotateImmediately: true },
      appOnly,
    );
    expect(configureNow.status).toBe(403);
    expect((await t.call('GET', '/v1/rotation/configs/app/db')).body.rules).toBeUndefined();
    expect(await t.valueAt('other/key', 'AWSCURRENT')).toBe(before);
    expect((await t.call('GET', '/v1/rotation/rotations', { query: { secretId: 'app/db' } })).body.rotations).toEqual(
      [],
    );

    const both = await t.call('POST', '/v1/rotation/rotate', { body: { secretId: 'app/db' } });
    expect(both.body).toMatchObject({ secrets: ['app/db', 'other/key'], started: true });
    expect(await t.valueAt('other/key', 'AWSCURRENT')).not.toBe(before);
  });

  it('lists only configs of secrets the caller may read, and disables a config', async () => {
    const t = await setup();
    for (const name of ['app/a', 'other/b']) {
      await t.createKeySecret(name);
      await t.configure(name);
    }
    const lister = await t.tokenFor('lister', [
      { path: 'secrets/app/*', capabilities: ['read', 'rotate'] },
      { path: 'sys/rotation/configs', capabilities: ['list'] },
    ]);
    const listed = await t.call('GET', '/v1/rotation/configs', { token: lister });
    expect(listed.body.configs.map((c: { name: string }) => c.name)).toEqual(['app/a']);
    const noList = await t.tokenFor('nolist', [{ path: 'secrets/app/*', capabilities: ['read'] }]);
    expect((await t.call('GET', '/v1/rotation/configs', { token: noList })).status).toBe(403);

    const off = await t.call('DELETE', '/v1/rotation/configs/app/a', { token: lister });
    expect(off.body).toMatchObject({ name: 'app/a', enabled: false });
    expect(off.body.nextRotationAt).toBeUndefined();
    const refused = await t.call('POST', '/v1/rotation/rotate', { body: { secretId: 'app/a' } });
    expect(refused.status).toBe(400);
    expect((await t.call('DELETE', '/v1/rotation/configs/app/none')).status).toBe(404);
  });

  it('reports compliance: share on schedule, overdue with how late, success rate and time to rotate', async () => {
    const t = await setup();
    const reader = await t.tokenFor('status', [{ path: 'sys/rotation/status', capabilities: ['read'] }]);
    const empty = await t.call('GET', '/v1/rotation/status', { token: reader });
    expect(empty.body).toEqual({
      secretsWithRotation: 0,
      onSchedule: 0,
      onScheduleShare: 1,
      overdue: [],
      rotations: { total: 0, succeeded: 0, failed: 0, running: 0, successRate: null },
      meanTimeToRotateMs: null,
      p95TimeToRotateMs: null,
    });
    await t.createKeySecret('app/late');
    await t.createKeySecret('app/fine');
    await t.configure('app/late', { rules: { automaticallyAfterDays: 1 } });
    await t.configure('app/fine', { rules: { automaticallyAfterDays: 30 } });
    t.advance(3 * DAY);
    await t.call('POST', '/v1/rotation/rotate', { body: { secretId: 'app/fine' } });
    t.target.failAt = 'setSecret';
    await t.call('POST', '/v1/rotation/rotate', { body: { secretId: 'app/fine' } });
    const status = await t.call('GET', '/v1/rotation/status', { token: reader });
    expect(status.body).toMatchObject({
      secretsWithRotation: 2,
      onSchedule: 1,
      onScheduleShare: 0.5,
      rotations: { total: 2, succeeded: 1, failed: 1, running: 0, successRate: 0.5 },
      meanTimeToRotateMs: 0,
      p95TimeToRotateMs: 0,
    });
    // Exact due times are the schedule's business (tested there); here: the entry, ISO times, and how late.
    expect(status.body.overdue).toHaveLength(1);
    const [late] = status.body.overdue;
    expect(late.name).toBe('app/late');
    expect(Date.parse(late.dueAt)).toBeLessThan(Date.parse(late.windowEnd));
    expect(late.overdueByMs).toBe(Date.UTC(2026, 10, 4, 12, 0, 0) - Date.parse(late.windowEnd));
    expect(late.overdueByMs).toBeGreaterThan(0);
    expect(
      (
        await t.call('GET', '/v1/rotation/status', {
          token: await t.tokenFor('none', [{ path: 'secrets/*', capabilities: ['read'] }]),
        })
      ).status,
    ).toBe(403);
  });

  it('rotates on a breach at once and revokes the old key with no grace period; queued revocations show no handles', async () => {
    const t = await setup();
    await t.createKeySecret('app/normal');
    await t.configure('app/normal', { settings: { overlapSeconds: 3600 } });
    await t.call('POST', '/v1/rotation/rotate', { body: { secretId: 'app/normal' } });
    const queued = await t.call('GET', '/v1/rotation/revocations');
    expect(queued.body.revocations).toEqual([
      expect.objectContaining({ secretName: 'app/normal', attempts: 0, dueAt: '2026-11-01T13:00:00.000Z' }),
    ]);
    expect(JSON.stringify(queued.body)).not.toContain('initial-app/normal');
    expect(t.target.revoked).toEqual([]);

    await t.createKeySecret('app/leaked');
    await t.configure('app/leaked', { settings: { overlapSeconds: 3600 } });
    const breach = await t.call('POST', '/v1/rotation/compromised', {
      body: { secretId: 'app/leaked', reason: 'posted in a chat' },
    });
    expect(breach.status).toBe(202);
    expect(breach.body).toMatchObject({ secrets: ['app/leaked'], started: true });
    expect(t.target.revoked).toEqual(['initial-app/leaked']);
    const history = await t.call('GET', '/v1/rotation/rotations', { query: { secretId: 'app/leaked' } });
    expect(history.body.rotations[0]).toMatchObject({ trigger: 'breach', status: 'succeeded' });
    const noSys = await t.tokenFor('norev', [{ path: 'secrets/*', capabilities: ['read'] }]);
    expect((await t.call('GET', '/v1/rotation/revocations', { token: noSys })).status).toBe(403);
  });
});

describe('Secrets Manager API with rotation', () => {
  it('keeps refusing RotateSecret for a secret without a rotation config', async () => {
    const t = await setup();
    await t.createKeySecret('app/plain');
    const res = await t.sm('RotateSecret', { SecretId: 'app/plain' });
    expect(res.status).toBe(400);
    expect(res.body.__type).toBe('InvalidRequestException');
    expect(res.body.message).toMatch(/No rotation is configured/);
  });

  it('RotateSecret sets RotationRules and rotates with the ClientRequestToken; DescribeSecret and ListSecrets show it', async () => {
    const t = await setup();
    const old = await t.createKeySecret('app/sm');
    await t.createKeySecret('app/sm-plain');
    await t.configure('app/sm');
    const token = randomUUID();
    const res = await t.sm('RotateSecret', {
      SecretId: 'app/sm',
      ClientRequestToken: token,
      RotationLambdaARN: 'arn:aws:lambda:us-east-1:123456789012:function:ignored',
      RotationRules: { AutomaticallyAfterDays: 7, Duration: '3h' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ARN: expect.stringContaining(':secret:app/sm-'), Name: 'app/sm', VersionId: token });
    expect(await t.valueAt('app/sm', 'AWSPREVIOUS')).toBe(old);
    const now = Date.UTC(2026, 10, 1, 12, 0, 0) / 1000;
    const described = await t.sm('DescribeSecret', { SecretId: 'app/sm' });
    expect(described.body).toMatchObject({
      RotationEnabled: true,
      RotationRules: { AutomaticallyAfterDays: 7, Duration: '3h' },
      LastRotatedDate: now,
      NextRotationDate: now + 7 * 86_400,
    });
    const perSecret = vi.spyOn(t.rotation, 'config');
    const all = vi.spyOn(t.rotation, 'listConfigs');
    const ofPage = vi.spyOn(t.rotation, 'configsOf');
    const listed = await t.sm('ListSecrets', {});
    // The page's configs in one call: neither one call per secret nor a read of every config.
    expect(ofPage).toHaveBeenCalledTimes(1);
    expect(all).not.toHaveBeenCalled();
    expect(perSecret).not.toHaveBeenCalled();
    perSecret.mockRestore();
    all.mockRestore();
    ofPage.mockRestore();
    const entries = Object.fromEntries(listed.body.SecretList.map((s: { Name: string }) => [s.Name, s]));
    expect(entries['app/sm']).toMatchObject({ RotationEnabled: true, LastRotatedDate: now });
    // A secret that never had rotation has no rotation members at all, as AWS answers.
    expect(entries['app/sm-plain']).not.toHaveProperty('RotationEnabled');
    expect(entries['app/sm-plain']).not.toHaveProperty('RotationRules');

    // RotateImmediately: false changes only the schedule.
    const rulesOnly = await t.sm('RotateSecret', {
      SecretId: 'app/sm',
      RotationRules: { ScheduleExpression: 'rate(10 days)' },
      RotateImmediately: false,
    });
    expect(rulesOnly.body.VersionId).toBeUndefined();
    expect((await t.call('GET', '/v1/rotation/configs/app/sm')).body.rules).toEqual({
      scheduleExpression: 'rate(10 days)',
    });
    expect(
      (await t.call('GET', '/v1/rotation/rotations', { query: { secretId: 'app/sm' } })).body.rotations,
    ).toHaveLength(1);
  });

  it('ListSecrets reads the rotation configs of its page only, however many secrets rotate', async () => {
    const t = await setup();
    for (const name of ['app/r1', 'app/r2', 'app/r3', 'app/r4', 'app/r5']) {
      await t.createKeySecret(name);
      await t.configure(name, { rules: { automaticallyAfterDays: Number(name.slice(-1)) } });
    }
    await t.createKeySecret('app/r0-plain');
    const queries = vi.spyOn(t.node.store, 'query');
    const gets = vi.spyOn(t.node.store, 'get');
    const configReads = (spy: typeof queries | typeof gets) =>
      spy.mock.calls.filter(([pk]) => pk === ROTATION_CONFIG_PK);

    // More configs than the page holds: a bounded query finds that out, then the page's own are read by name.
    const first = await t.sm('ListSecrets', { MaxResults: 2, SortOrder: 'asc' });
    expect(first.body.SecretList.map((s: { Name: string }) => s.Name)).toEqual(['app/r0-plain', 'app/r1']);
    expect(first.body.SecretList[0]).not.toHaveProperty('RotationEnabled');
    expect(first.body.SecretList[1]).toMatchObject({
      RotationEnabled: true,
      RotationRules: { AutomaticallyAfterDays: 1 },
    });
    expect(configReads(queries)).toEqual([[ROTATION_CONFIG_PK, { limit: 3 }]]);
    expect(configReads(gets).map(([, sk]) => sk)).toEqual(['app/r0-plain', 'app/r1']);

    // A page at least as large as all configs: the one query holds them all, no read by name.
    queries.mockClear();
    gets.mockClear();
    const all = await t.sm('ListSecrets', { MaxResults: 10, SortOrder: 'asc' });
    expect(all.body.SecretList.map((s: { RotationRules?: unknown }) => s.RotationRules)).toEqual([
      undefined,
      ...[1, 2, 3, 4, 5].map((days) => ({ AutomaticallyAfterDays: days })),
    ]);
    expect(configReads(queries)).toEqual([[ROTATION_CONFIG_PK, { limit: 7 }]]);
    expect(configReads(gets)).toEqual([]);
  });

  it('CancelRotateSecret turns rotation off; RotateSecret turns it back on', async () => {
    const t = await setup();
    await t.createKeySecret('app/cancel');
    await t.configure('app/cancel', { rules: { automaticallyAfterDays: 30 } });
    expect((await t.sm('CancelRotateSecret', { SecretId: 'app/cancel' })).status).toBe(200);
    expect((await t.call('GET', '/v1/rotation/configs/app/cancel')).body.enabled).toBe(false);
    // Cancelled, not never configured: AWS still shows RotationEnabled, as false, and the rules.
    const described = await t.sm('DescribeSecret', { SecretId: 'app/cancel' });
    expect(described.body.RotationEnabled).toBe(false);
    expect(described.body.RotationRules).toEqual({ AutomaticallyAfterDays: 30 });
    expect(described.body.NextRotationDate).toBeUndefined();
    expect((await t.sm('CancelRotateSecret', { SecretId: 'app/cancel' })).status).toBe(200);
    const again = await t.sm('RotateSecret', { SecretId: 'app/cancel' });
    expect(again.status).toBe(200);
    expect((await t.call('GET', '/v1/rotation/configs/app/cancel')).body).toMatchObject({
      enabled: true,
      rules: { automaticallyAfterDays: 30 },
    });
  });

  it('RotateSecret needs rotate on every member of the secret’s group', async () => {
    const t = await setup();
    await t.createKeySecret('app/g1');
    await t.createKeySecret('other/g2');
    await t.configure('app/g1');
    await t.configure('other/g2');
    await t.call('PUT', '/v1/rotation/groups/g', { body: { members: ['app/g1', 'other/g2'] } });
    const appOnly = await t.tokenFor('sm-app', [{ path: 'secrets/app/*', capabilities: ['read', 'rotate'] }]);
    const res = await t.sm(
      'RotateSecret',
      { SecretId: 'app/g1', RotationRules: { AutomaticallyAfterDays: 5 } },
      appOnly,
    );
    expect(res.body.__type).toBe('AccessDeniedException');
    // Refused before anything changed.
    expect((await t.call('GET', '/v1/rotation/configs/app/g1')).body.rules).toBeUndefined();
  });
});
