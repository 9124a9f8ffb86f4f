import { ConflictError, InvalidRequestError, NotFoundError } from '../errors.ts';
import { assertWritable } from '../secrets/replication/replication-rules.ts';
import type { SecretService } from '../secrets/secret-service.ts';
import { markedForDeletion } from '../secrets/secret-service.ts';
import { AWSCURRENT, AWSPENDING, type SecretDescription, type SecretRef } from '../secrets/secret-types.ts';
import type { RotationConfigView, RotationService } from './rotation-service.ts';
import type { RotationRules } from './rotation-types.ts';

/**
 * Secrets Manager's rotation operations (RotateSecret, CancelRotateSecret) on Coffer's rotation service, with AWS's
 * rules: a rotation whose AWSPENDING sits on another version than AWSCURRENT is unfinished and blocks a new one;
 * RotateSecret on a secret whose rotation was cancelled turns it back on with its last config; RotationLambdaARN has
 * no meaning here, so a secret needs a Coffer rotation config to rotate at all.
 */

/** The parts of the runtime these operations use; rotation may be turned off on a runtime. */
export interface SecretsManagerRotationDeps {
  readonly secrets: Pick<SecretService, 'describe'>;
  readonly rotation?: RotationService | undefined;
}

export interface RotateSecretInput {
  /** A name, or the stored ARN. */
  readonly secretId: string;
  /** New rules; without them a cancelled rotation is turned back on as it was. */
  readonly rules?: RotationRules | undefined;
  /** @default true */
  readonly rotateImmediately?: boolean | undefined;
  readonly clientRequestToken?: string | undefined;
  /**
   * Authorises the caller to rotate every secret a rotation now would change: asked with the secret's name and then
   * its group's members (the secret among them), before anything changes, and only when rotating now.
   */
  readonly authorizeRotation: (name: string, members: readonly string[]) => Promise<void>;
}

export interface RotateSecretResult extends SecretRef {
  /** The started (or, for a retried token, the existing) rotation; absent when not rotating now. */
  readonly rotationId?: string;
}

/** AWS's message when AWSPENDING sits on another version, or a rotation is running. */
export const ROTATION_INCOMPLETE = "A previous rotation isn't complete. That rotation will be reattempted.";

const NOT_CONFIGURED =
  'No rotation is configured for this secret: configure one with Coffer (coffer rotation configure); ' +
  'a RotationLambdaARN cannot be used.';

/** Tells the compatible API's error catalogue which refusal this is (see `lambdas/broker/routes/secretsmanager/errors.ts`). */
const notConfigured = () => new InvalidRequestError(NOT_CONFIGURED, { details: { reason: 'rotation_not_configured' } });

/**
 * AWS RotateSecret: changes the rules or re-enables the config, then starts a rotation unless told not to.
 *
 * @throws InvalidRequestError when a rotation is unfinished or running, no rotation is configured (or rotation is
 *   off on this runtime), or the secret is pending deletion
 */
export async function rotateSecret(
  deps: SecretsManagerRotationDeps,
  input: RotateSecretInput,
): Promise<RotateSecretResult> {
  const secret = await describeLive(deps, input.secretId);
  const pending = Object.entries(secret.versionIdsToStages).find(([, labels]) => labels.includes(AWSPENDING));
  if (pending !== undefined && !pending[1].includes(AWSCURRENT)) throw new InvalidRequestError(ROTATION_INCOMPLETE);
  const service = deps.rotation;
  const config = await rotationConfigOf(deps, secret.name);
  if (service === undefined || config === undefined) throw notConfigured();
  const rotateNow = input.rotateImmediately !== false;
  // A group rotation changes every member: refuse before changing anything.
  if (rotateNow) await input.authorizeRotation(secret.name, await service.groupMembers(secret.name));
  if (input.rules !== undefined) {
    await service.setRules(secret.name, input.rules);
  } else if (!config.enabled) {
    await service.configure({
      secretId: secret.name,
      type: config.type,
      settings: config.settings,
      rules: config.rules,
    });
  }
  const ref = { arn: secret.arn, name: secret.name };
  if (!rotateNow) return ref;
  try {
    const started = await service.rotate({
      secretId: secret.name,
      clientRequestToken: input.clientRequestToken,
      trigger: 'on-demand',
    });
    return { ...ref, rotationId: started.rotationId };
  } catch (err) {
    if (err instanceof ConflictError) throw new InvalidRequestError(ROTATION_INCOMPLETE);
    throw err;
  }
}

/**
 * AWS CancelRotateSecret: turns rotation off; a rotation already running finishes, and a cancelled rotation may be
 * cancelled again. A secret that never had rotation configured (or rotation off on this runtime) is refused, as AWS
 * refuses a secret without a rotation function (`InvalidRequestException`, API reference of CancelRotateSecret).
 *
 * @throws InvalidRequestError when the secret is pending deletion, or has no rotation config
 */
export async function cancelRotateSecret(deps: SecretsManagerRotationDeps, secretId: string): Promise<SecretRef> {
  const secret = await describeLive(deps, secretId);
  if (deps.rotation === undefined || (await rotationConfigOf(deps, secret.name)) === undefined) throw notConfigured();
  await deps.rotation.disable(secret.name);
  return { arn: secret.arn, name: secret.name };
}

/** The rotation config of a secret, when rotation is on for this runtime and configured for the secret. */
export async function rotationConfigOf(
  deps: Pick<SecretsManagerRotationDeps, 'rotation'>,
  name: string,
): Promise<RotationConfigView | undefined> {
  if (deps.rotation === undefined) return undefined;
  try {
    return await deps.rotation.config(name);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/** A secret's description, refusing one pending deletion as the core's other writes do. */
async function describeLive(deps: SecretsManagerRotationDeps, secretId: string): Promise<SecretDescription> {
  const secret = await deps.secrets.describe({ secretId });
  if (secret.deletedAt !== undefined) throw markedForDeletion(secretId);
  // A replica rotates with its primary, never on its own (AWS: InvalidParameterException).
  assertWritable(secret);
  return secret;
}
