import { describe, expect, it } from 'vitest';
import {
  ConflictError,
  InvalidRequestError,
  NotFoundError,
  PermissionDeniedError,
} from '../../../../lambdas/core/errors.ts';
import type { RotationConfigView, RotationService } from '../../../../lambdas/core/rotation/rotation-service.ts';
import {
  cancelRotateSecret,
  ROTATION_INCOMPLETE,
  rotateSecret,
} from '../../../../lambdas/core/rotation/secrets-manager-rotation.ts';
import type { SecretDescription } from '../../../../lambdas/core/secrets/secret-types.ts';

function described(extra: Partial<SecretDescription> = {}): SecretDescription {
  return {
    arn: 'arn:aws:secretsmanager:r:1:secret:s-abcdef',
    name: 's',
    description: '',
    tags: {},
    metadata: {},
    createdAt: 1,
    updatedAt: 1,
    versionIdsToStages: { v1: ['AWSCURRENT'] },
    region: 'r',
    ...extra,
  };
}

/** A rotation service that records the calls these operations make. */
function fakeRotation(config: Partial<RotationConfigView> | undefined, rotate?: () => Promise<unknown>) {
  const calls: string[] = [];
  const service = {
    async config() {
      if (config === undefined) throw new NotFoundError('none');
      return { name: 's', type: 'api-key-coffer', settings: {}, enabled: true, ...config };
    },
    async groupMembers() {
      return ['s', 't'];
    },
    async setRules() {
      calls.push('setRules');
    },
    async configure() {
      calls.push('configure');
    },
    async disable() {
      calls.push('disable');
    },
    async rotate() {
      calls.push('rotate');
      if (rotate !== undefined) await rotate();
      return { rotationId: 'r1', secrets: ['s'], started: true };
    },
  } as unknown as RotationService;
  return { service, calls };
}

const secrets = (d: SecretDescription) => ({ describe: async () => d });
const allow = async () => {};

describe('Module: secrets-manager-rotation', () => {
  describe('rotateSecret', () => {
    it('refuses while AWSPENDING sits on another version than AWSCURRENT, changing nothing', async () => {
      const { service, calls } = fakeRotation({});
      const d = described({ versionIdsToStages: { v1: ['AWSCURRENT'], v2: ['AWSPENDING'] } });
      await expect(
        rotateSecret({ secrets: secrets(d), rotation: service }, { secretId: 's', authorizeRotation: allow }),
      ).rejects.toThrow(ROTATION_INCOMPLETE);
      expect(calls).toEqual([]);
    });

    it('refuses a secret without a config, or on a runtime without rotation', async () => {
      for (const rotation of [fakeRotation(undefined).service, undefined]) {
        await expect(
          rotateSecret({ secrets: secrets(described()), rotation }, { secretId: 's', authorizeRotation: allow }),
        ).rejects.toThrow(/No rotation is configured/);
      }
    });

    it('authorises every group member before changing anything', async () => {
      const { service, calls } = fakeRotation({ enabled: false });
      const asked: unknown[] = [];
      const refuse = async (name: string, members: readonly string[]) => {
        asked.push([name, members]);
        throw new PermissionDeniedError('no');
      };
      await expect(
        rotateSecret(
          { secrets: secrets(described()), rotation: service },
          { secretId: 's', rules: { automaticallyAfterDays: 7 }, authorizeRotation: refuse },
        ),
      ).rejects.toThrow(PermissionDeniedError);
      expect(asked).toEqual([['s', ['s', 't']]]);
      expect(calls).toEqual([]);
    });

    it('turns a cancelled rotation back on and starts it, answering the rotation id', async () => {
      const { service, calls } = fakeRotation({ enabled: false });
      const result = await rotateSecret(
        { secrets: secrets(described()), rotation: service },
        { secretId: 's', authorizeRotation: allow },
      );
      expect(calls).toEqual(['configure', 'rotate']);
      expect(result).toEqual({ arn: described().arn, name: 's', rotationId: 'r1' });
    });

    it('only changes the rules when not rotating now, and asks for no member authorisation', async () => {
      const { service, calls } = fakeRotation({});
      const result = await rotateSecret(
        { secrets: secrets(described()), rotation: service },
        {
          secretId: 's',
          rules: { automaticallyAfterDays: 7 },
          rotateImmediately: false,
          authorizeRotation: () => Promise.reject(new Error('not asked')),
        },
      );
      expect(calls).toEqual(['setRules']);
      expect(result).toEqual({ arn: described().arn, name: 's' });
    });

    it('answers a rotation already running as AWS does', async () => {
      const { service } = fakeRotation({}, () => Promise.reject(new ConflictError('locked')));
      await expect(
        rotateSecret({ secrets: secrets(described()), rotation: service }, { secretId: 's', authorizeRotation: allow }),
      ).rejects.toThrow(new InvalidRequestError(ROTATION_INCOMPLETE));
    });
  });

  describe('cancelRotateSecret', () => {
    it('turns rotation off, also when it was already cancelled', async () => {
      const { service, calls } = fakeRotation({});
      expect(await cancelRotateSecret({ secrets: secrets(described()), rotation: service }, 's')).toEqual({
        arn: described().arn,
        name: 's',
      });
      const cancelled = fakeRotation({ enabled: false });
      await cancelRotateSecret({ secrets: secrets(described()), rotation: cancelled.service }, 's');
      expect([calls, cancelled.calls]).toEqual([['disable'], ['disable']]);
    });

    it('refuses a secret that never had rotation, as AWS refuses one without a rotation function', async () => {
      const { service, calls } = fakeRotation(undefined);
      for (const deps of [{ secrets: secrets(described()), rotation: service }, { secrets: secrets(described()) }]) {
        const refused = await cancelRotateSecret(deps, 's').catch((err: unknown) => err);
        expect(refused).toBeInstanceOf(InvalidRequestError);
        expect((refused as InvalidRequestError).details).toEqual({ reason: 'rotation_not_configured' });
      }
      expect(calls).toEqual([]);
    });

    it('refuses a secret pending deletion', async () => {
      const { service, calls } = fakeRotation({});
      await expect(
        cancelRotateSecret({ secrets: secrets(described({ deletedAt: 5 })), rotation: service }, 's'),
      ).rejects.toThrow(InvalidRequestError);
      expect(calls).toEqual([]);
    });
  });
});
