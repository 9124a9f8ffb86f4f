import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRotationFaults, withRotationFaults } from '../../../lambdas/core/rotation/rotation-faults.ts';
import type { RotatorRegistry } from '../../../lambdas/core/rotation/rotation-types.ts';
import { postgresAlternatingRotator, postgresSingleRotator } from '../../../lambdas/engines/rotation/postgres/index.ts';
import { PostgresSessions } from '../../../lambdas/engines/shared/postgres/postgres-sessions.ts';
import { type AslDefinition, synthesiseRotationDefinition } from '../../../lib/rotation-definition.ts';
import { canLogin, startPostgres, type TestPostgres } from '../../support/postgres.ts';
import { FakeTarget, fakeRegistry, fakeRotator, rotationHarness, TEST_GRANT } from '../../support/rotation-harness.ts';

/**
 * The state machine CDK synthesises (taken from a fresh synth, not from the committed file) is executed here by the
 * local runner, with the real step handlers (RotationService.runStep) and the real PostgreSQL rotators against a
 * real PostgreSQL server.
 */
/** The PostgreSQL sessions (pools) of these rotators, as a node's composition root owns them. */
const sessions = new PostgresSessions();
let postgres: TestPostgres;
let definition: AslDefinition;

beforeAll(async () => {
  definition = synthesiseRotationDefinition();
  postgres = await startPostgres();
}, 180_000);

afterAll(async () => {
  await sessions.close();
  await postgres?.stop();
});

function registry(faults?: string): RotatorRegistry {
  const base: RotatorRegistry = {
    ...fakeRegistry(fakeRotator(new FakeTarget())),
    'postgres-single': postgresSingleRotator(sessions),
    'postgres-alternating': postgresAlternatingRotator(sessions),
  };
  return withRotationFaults(base, parseRotationFaults(faults));
}

const credential = (username: string, password: string) => ({
  engine: 'postgres',
  host: postgres.host,
  port: postgres.port,
  dbname: postgres.database,
  username,
  password,
});

async function login(value: { kind: string; string?: string } | undefined): Promise<boolean> {
  if (value?.kind !== 'string' || value.string === undefined) return false;
  const c = JSON.parse(value.string) as { username: string; password: string };
  return canLogin(postgres, c.username, c.password);
}

async function newUser(prefix: string) {
  const user = `${prefix}_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  const admin = await postgres.adminClient();
  try {
    await admin.query(`CREATE ROLE "${user}" LOGIN PASSWORD '${password}'`);
  } finally {
    await admin.end();
  }
  return { user, password };
}

describe('the synthesised rotation state machine, run locally against real PostgreSQL', () => {
  it('rotates alternating users twice: each new credential logs in, the previous one until the next rotation', async () => {
    const h = rotationHarness(registry(), undefined, definition as unknown as Record<string, unknown>);
    const { user, password } = await newUser('wf_alt');
    await h.secrets.create({
      name: 'pg/admin',
      value: { kind: 'string', string: JSON.stringify(credential(postgres.adminUser, postgres.adminPassword)) },
    });
    await h.secrets.create({
      name: 'pg/app',
      value: { kind: 'string', string: JSON.stringify(credential(user, password)) },
    });
    await h.rotation.configure({
      grant: TEST_GRANT,
      secretId: 'pg/app',
      type: 'postgres-alternating',
      settings: { adminSecret: 'pg/admin' },
    });

    const usernames: string[] = [];
    for (let round = 0; round < 2; round++) {
      const { rotationId } = await h.rotation.rotate({ secretId: 'pg/app', trigger: 'on-demand' });
      await h.runner.done(rotationId);
      expect((await h.rotation.rotation(rotationId)).status).toBe('succeeded');
      const current = await h.secrets.get({ secretId: 'pg/app' });
      const previous = await h.secrets.get({ secretId: 'pg/app', versionStage: 'AWSPREVIOUS' });
      expect(await login(current.value)).toBe(true);
      expect(await login(previous.value)).toBe(true);
      usernames.push(JSON.parse((current.value as { string: string }).string).username);
      await expect(h.secrets.get({ secretId: 'pg/app', versionStage: 'AWSPENDING' })).rejects.toThrow();
    }
    expect(usernames).toEqual([`${user}_clone`, user]);
  });

  it('a failure at testSecret rolls back through the synthesised Catch: the current password still logs in', async () => {
    const h = rotationHarness(
      registry('postgres-single:testSecret:fail'),
      undefined,
      definition as unknown as Record<string, unknown>,
    );
    const { user, password } = await newUser('wf_single');
    const value = { kind: 'string' as const, string: JSON.stringify(credential(user, password)) };
    await h.secrets.create({ name: 'pg/single', value });
    await h.rotation.configure({ grant: TEST_GRANT, secretId: 'pg/single', type: 'postgres-single' });
    const { rotationId } = await h.rotation.rotate({ secretId: 'pg/single', trigger: 'on-demand' });
    await h.runner.done(rotationId);
    const record = await h.rotation.rotation(rotationId);
    expect(record).toMatchObject({ status: 'failed', step: 'testSecret' });
    expect((await h.secrets.get({ secretId: 'pg/single' })).value).toEqual(value);
    expect(await login(value)).toBe(true);
    expect(h.events.events.some((e) => JSON.stringify(e.detail).includes(rotationId))).toBe(true);
  });
});
