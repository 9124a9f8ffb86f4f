import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { describe, expect, it, vi } from 'vitest';
import { ConflictError, InternalError, NotFoundError, ValidationError } from '../../../../lambdas/core/errors.ts';
import { RotationService } from '../../../../lambdas/core/rotation/rotation-service.ts';
import { TransientRotationError } from '../../../../lambdas/core/rotation/rotation-types.ts';
import type { StepTaskInput } from '../../../../lambdas/core/rotation/rotation-workflow.ts';
import { composeAwsDeps } from '../../../../lambdas/entrypoints/lambda/compose.ts';
import { loadAwsConfig } from '../../../../lambdas/entrypoints/lambda/config.ts';
import {
  createRotationHandler,
  loadRotationHandler,
  parseRotationEvent,
  type RotationLogger,
  type RotationOperations,
} from '../../../../lambdas/entrypoints/lambda/rotation.ts';
import { rejectionOf } from '../../../support/rejection.ts';

const ACCOUNT = '123456789012';
const TOKEN = '6f1c2b0e-8d2e-4a53-9a7b-0c6d3f7e1a42';
const STEP: StepTaskInput = {
  Step: 'setSecret',
  Rotation: { RotationId: TOKEN, ClientRequestToken: TOKEN, Secrets: ['prod/db/password'], Trigger: 'schedule' },
};
const BREACH = {
  version: '0',
  id: '3e3c153a-8339-4e30-8c35-687ebef853fe',
  source: 'coffer.security',
  'detail-type': 'Secret Compromised',
  account: ACCOUNT,
  time: '2026-11-29T16:00:00Z',
  region: 'eu-west-1',
  resources: [],
  detail: { secretId: 'prod/db/password', reason: 'found in a public repository' },
};
const ROTATION_ENV = {
  COFFER_ROTATION_STATE_MACHINE_ARN: `arn:aws:states:eu-west-1:${ACCOUNT}:stateMachine:coffer-rotation`,
  COFFER_ROTATION_SCHEDULE_GROUP: 'coffer-rotation',
  COFFER_ROTATION_SCHEDULER_ROLE_ARN: `arn:aws:iam::${ACCOUNT}:role/coffer-rotation-scheduler`,
  COFFER_ROTATION_TARGET_ARN: `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:coffer-rotation`,
};
const BASE_ENV = {
  COFFER_TABLE_NAME: 'coffer-items',
  COFFER_ENVELOPE_KEY_ARN: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
  COFFER_AUDIT_BUCKET: 'coffer-audit',
  AWS_REGION: 'eu-west-1',
  COFFER_AUDIT_SALT: randomBytes(32).toString('base64'),
};

/** A fake rotation service, type-checked against the real one's methods. */
function fakeRotation() {
  const started = { rotationId: TOKEN, secrets: ['prod/db/password'], started: true };
  return {
    rotate: vi.fn<RotationOperations['rotate']>(async () => started),
    compromised: vi.fn<RotationOperations['compromised']>(async () => started),
    runStep: vi.fn<RotationOperations['runStep']>(async (input) => ({ step: input.Step })),
    sweepRevocations: vi.fn<RotationOperations['sweepRevocations']>(async () => ({ revoked: 2, failed: 1 })),
  } satisfies RotationOperations;
}

function recordingLogger() {
  const lines: { level: string; message: string; attributes: Record<string, unknown> }[] = [];
  const logger: RotationLogger = {
    info: (message, attributes) => lines.push({ level: 'info', message, attributes }),
    warn: (message, attributes) => lines.push({ level: 'warn', message, attributes }),
    error: (message, attributes) => lines.push({ level: 'error', message, attributes }),
  };
  return { logger, lines };
}

function setup() {
  const rotation = fakeRotation();
  const { logger, lines } = recordingLogger();
  return { rotation, lines, handler: createRotationHandler({ rotation, logger }) };
}

describe('Function: parseRotationEvent', () => {
  it('recognises each kind of invocation', () => {
    expect(parseRotationEvent(STEP)).toEqual({ kind: 'step', input: STEP });
    expect(parseRotationEvent({ action: 'scheduled', secretId: 'prod/db' })).toEqual({
      kind: 'scheduled',
      secretId: 'prod/db',
    });
    expect(parseRotationEvent({ action: 'sweep' })).toEqual({ kind: 'sweep' });
    expect(parseRotationEvent(BREACH)).toEqual({
      kind: 'breach',
      secretId: 'prod/db/password',
      reason: 'found in a public repository',
    });
  });

  it('keeps what the state machine added to the state (a caught error, earlier results)', () => {
    const state = {
      Step: 'rollback',
      Rotation: { ...STEP.Rotation, Error: { Error: 'RotationStepError', Cause: '{}' }, Failure: { x: 1 } },
    };
    const parsed = parseRotationEvent(state);
    expect(parsed).toEqual({ kind: 'step', input: state });
  });

  it.each([
    ['not an object', 'prod/db', /^invalid rotation event: not an object; expected a step task/],
    ['an array', [STEP], /^invalid rotation event: not an object/],
    ['null', null, /^invalid rotation event: not an object/],
    ['an unknown shape', { hello: 'world' }, /^invalid rotation event: unrecognised; expected a step task/],
    ['an unknown action', { action: 'explode' }, /^invalid rotation event: unrecognised/],
    ['an unknown step', { ...STEP, Step: 'dropTables' }, /^invalid step task at Step: /],
    [
      'a step without secrets',
      { ...STEP, Rotation: { ...STEP.Rotation, Secrets: [] } },
      /^invalid step task at Rotation\.Secrets: /,
    ],
    ['a step without its rotation', { Step: 'setSecret' }, /^invalid step task at Rotation: /],
    ['a scheduled rotation without a secret', { action: 'scheduled' }, /^invalid scheduled rotation at secretId: /],
    [
      'a scheduled rotation with extra fields',
      { action: 'scheduled', secretId: 'a', force: true },
      /^invalid scheduled rotation: /,
    ],
    ['a sweep with extra fields', { action: 'sweep', prefix: 'x' }, /^invalid sweep: /],
    [
      'an event of another detail type',
      { ...BREACH, 'detail-type': 'Secret Rotated' },
      /^invalid breach event at detail-type: /,
    ],
    ['an event of another source', { ...BREACH, source: 'aws.events' }, /^invalid breach event at source: /],
    [
      'a breach without a secret',
      { ...BREACH, detail: { reason: 'x' } },
      /^invalid breach event at detail\.secretId: /,
    ],
  ])('refuses %s with a ValidationError naming what is wrong', (_label, event, message) => {
    let caught: unknown;
    try {
      parseRotationEvent(event);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as Error).message).toMatch(message);
  });

  it('never quotes a value of the event in its error', () => {
    const err = (() => {
      try {
        parseRotationEvent({ action: 'scheduled', secretId: 42, password: 'hunter2-s3cr3t' });
      } catch (caught) {
        return caught as Error;
      }
      throw new Error('expected a throw');
    })();
    expect(err.message).not.toContain('hunter2');
    expect(err.message).not.toContain('42');
  });
});

describe('Function: createRotationHandler', () => {
  it('runs a step task and returns its result', async () => {
    const { rotation, handler } = setup();
    await expect(handler(STEP)).resolves.toEqual({ step: 'setSecret' });
    expect(rotation.runStep).toHaveBeenCalledWith(STEP);
    expect(rotation.rotate).not.toHaveBeenCalled();
  });

  it("lets a step's error through unchanged, so the state machine's Retry and Catch match its name", async () => {
    const { rotation, handler, lines } = setup();
    const transient = new TransientRotationError('connection refused by the target');
    rotation.runStep.mockRejectedValueOnce(transient);
    const err = await rejectionOf(handler(STEP));
    expect(err).toBe(transient);
    expect(err.name).toBe('TransientRotationError');
    expect(lines.at(-1)).toMatchObject({
      level: 'error',
      attributes: { kind: 'step', step: 'setSecret', rotationId: TOKEN, error: { name: 'TransientRotationError' } },
    });
  });

  it('starts a scheduled rotation with trigger schedule', async () => {
    const { rotation, handler } = setup();
    await expect(handler({ action: 'scheduled', secretId: 'prod/db/password' })).resolves.toMatchObject({
      rotationId: TOKEN,
    });
    expect(rotation.rotate).toHaveBeenCalledWith({ secretId: 'prod/db/password', trigger: 'schedule' });
  });

  it('logs and skips a scheduled rotation when one is already in progress', async () => {
    const { rotation, handler, lines } = setup();
    rotation.rotate.mockRejectedValueOnce(new ConflictError('rotation in progress: secret prod/db is being rotated'));
    await expect(handler({ action: 'scheduled', secretId: 'prod/db' })).resolves.toEqual({
      skipped: 'rotation in progress',
      secretId: 'prod/db',
    });
    expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', message: 'scheduled rotation skipped' }));
  });

  it('skips the schedule of a secret that is gone', async () => {
    const { rotation, handler } = setup();
    rotation.rotate.mockRejectedValueOnce(new NotFoundError('secret prod/db not found'));
    await expect(handler({ action: 'scheduled', secretId: 'prod/db' })).resolves.toEqual({
      skipped: 'secret not found',
      secretId: 'prod/db',
    });
  });

  it('fails a scheduled rotation on any other error, so the invocation is retried', async () => {
    const { rotation, handler } = setup();
    rotation.rotate.mockRejectedValueOnce(new InternalError('Step Functions StartExecution failed (AccessDenied)'));
    await expect(handler({ action: 'scheduled', secretId: 'prod/db' })).rejects.toBeInstanceOf(InternalError);
  });

  it('rotates a secret reported compromised, with the reason', async () => {
    const { rotation, handler } = setup();
    await handler(BREACH);
    expect(rotation.compromised).toHaveBeenCalledWith({
      secretId: 'prod/db/password',
      reason: 'found in a public repository',
    });
  });

  it('sweeps the revocation queue', async () => {
    const { rotation, handler } = setup();
    await expect(handler({ action: 'sweep' })).resolves.toEqual({ revoked: 2, failed: 1 });
    expect(rotation.sweepRevocations).toHaveBeenCalledOnce();
  });

  it('refuses a bad event without calling the service, and logs why', async () => {
    const { rotation, handler, lines } = setup();
    await expect(handler({ action: 'rotate-everything' })).rejects.toBeInstanceOf(ValidationError);
    for (const method of Object.values(rotation)) expect(method).not.toHaveBeenCalled();
    expect(lines).toEqual([
      expect.objectContaining({ level: 'error', message: 'rotation event refused', attributes: expect.any(Object) }),
    ]);
  });

  it('runs each invocation in the request scope, keyed by the Lambda request id', async () => {
    const rotation = fakeRotation();
    const scopes: string[] = [];
    const handler = createRotationHandler({
      rotation,
      logger: recordingLogger().logger,
      requestScope: async (requestId, fn) => {
        scopes.push(requestId);
        return fn();
      },
    });
    await handler({ action: 'sweep' }, { awsRequestId: 'req-1' });
    await handler({ action: 'sweep' });
    expect(scopes[0]).toBe('req-1');
    expect(scopes[1]).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('Function: loadAwsConfig (rotation settings)', () => {
  it('leaves rotation unconfigured when no rotation setting is given', () => {
    expect(loadAwsConfig(BASE_ENV).rotation).toBeUndefined();
  });

  it('reads the four rotation settings, with the default event bus', () => {
    expect(loadAwsConfig({ ...BASE_ENV, ...ROTATION_ENV }).rotation).toEqual({
      stateMachineArn: ROTATION_ENV.COFFER_ROTATION_STATE_MACHINE_ARN,
      scheduleGroup: 'coffer-rotation',
      schedulerRoleArn: ROTATION_ENV.COFFER_ROTATION_SCHEDULER_ROLE_ARN,
      targetArn: ROTATION_ENV.COFFER_ROTATION_TARGET_ARN,
      eventBusName: 'default',
    });
    expect(
      loadAwsConfig({ ...BASE_ENV, ...ROTATION_ENV, COFFER_EVENT_BUS_NAME: 'coffer' }).rotation?.eventBusName,
    ).toBe('coffer');
  });

  it('requires the rotation settings together, naming the missing one', () => {
    const { COFFER_ROTATION_SCHEDULER_ROLE_ARN: _role, ...partial } = ROTATION_ENV;
    expect(() => loadAwsConfig({ ...BASE_ENV, ...partial })).toThrow(
      /^invalid configuration COFFER_ROTATION_SCHEDULER_ROLE_ARN: is required with COFFER_ROTATION_STATE_MACHINE_ARN$/,
    );
  });

  it.each([
    ['COFFER_ROTATION_STATE_MACHINE_ARN', 'coffer-rotation', 'must be a state machine ARN'],
    ['COFFER_ROTATION_SCHEDULE_GROUP', 'a group/with/slashes', "must be 1-64 letters, digits, '.', '_' or '-'"],
    ['COFFER_ROTATION_SCHEDULER_ROLE_ARN', `arn:aws:iam::${ACCOUNT}:user/alice`, 'must be an IAM role ARN'],
    [
      'COFFER_ROTATION_TARGET_ARN',
      `arn:aws:states:eu-west-1:${ACCOUNT}:stateMachine:x`,
      'must be a Lambda function ARN',
    ],
  ])('refuses a bad %s', (name, value, message) => {
    expect(() => loadAwsConfig({ ...BASE_ENV, ...ROTATION_ENV, [name]: value })).toThrow(
      `invalid configuration ${name}: ${message}`,
    );
  });
});

describe('Function: composeAwsDeps (rotation)', () => {
  const clients = () => ({
    dynamodb: new DynamoDBClient({ region: 'eu-west-1' }),
    kms: new KMSClient({ region: 'eu-west-1' }),
  });
  const compose = (env: Record<string, string>) => {
    const config = loadAwsConfig(env);
    return composeAwsDeps({ ...config, auditSalt: config.auditSalt! }, clients());
  };

  it('gives the broker the rotation service when rotation is configured', () => {
    expect(compose({ ...BASE_ENV, ...ROTATION_ENV }).rotation).toBeInstanceOf(RotationService);
  });

  it('leaves rotation out when it is not configured', () => {
    expect(compose(BASE_ENV).rotation).toBeUndefined();
  });
});

describe('Function: loadRotationHandler', () => {
  it('refuses to start the rotation function without the rotation settings, naming the setting', async () => {
    await expect(loadRotationHandler(loadAwsConfig(BASE_ENV))).rejects.toThrow(
      /^invalid configuration COFFER_ROTATION_STATE_MACHINE_ARN: is required by the rotation function$/,
    );
  });
});
