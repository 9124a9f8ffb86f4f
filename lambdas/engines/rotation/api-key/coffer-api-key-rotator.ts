import * as z from 'zod';
import { AlreadyExistsError, InvalidRequestError } from '../../../core/errors.ts';
import type { Clock } from '../../../core/ports/clock.ts';
import type { Store } from '../../../core/ports/store.ts';
import { RotationStepError, type Rotator } from '../../../core/rotation/rotation-types.ts';
import { ApiKeyRegistry, ScopesSchema } from './api-key-registry.ts';
import {
  DEFAULT_OVERLAP_SECONDS,
  handleKeyId,
  keyOf,
  MAX_OVERLAP_SECONDS,
  parseWith,
  requireKey,
  retireAfter,
  valueFields,
  withKey,
} from './api-key-value.ts';
import { pendingKeyId } from './http-api-key-rotator.ts';

/**
 * Settings of the `api-key-coffer` rotation type.
 * @example { overlapSeconds: 900, scopes: ['billing:read'] }
 */
export const CofferApiKeySettingsSchema = z
  .object({
    /** How long the previous key keeps validating after a rotation. @default 3600 */
    overlapSeconds: z.number().int().min(0).max(MAX_OVERLAP_SECONDS).default(DEFAULT_OVERLAP_SECONDS),
    /** Returned by validation with the key, for the service to authorise by. @default [] */
    scopes: ScopesSchema.default([]),
  })
  .strict();

export type CofferApiKeySettings = z.output<typeof CofferApiKeySettingsSchema>;

export interface CofferApiKeyRotatorOptions {
  readonly store: Store;
  /** @default systemClock */
  readonly clock?: Clock;
}

/**
 * The `api-key-coffer` rotation type: keys issued and validated by Coffer itself ({@link ApiKeyRegistry}).
 *
 * - createSecret registers a new key for the secret (valid at once) and stores it as AWSPENDING;
 * - setSecret makes sure it is registered (again, idempotently, should the registry have lost it);
 * - testSecret validates the pending key and checks it belongs to this secret;
 * - rollback revokes every key this rotation registered (found by token even when AWSPENDING was never stored),
 *   never the current one;
 * - retire revokes the previous key after `overlapSeconds` (at once on a breach).
 *
 * @example
 * const rotators = { 'api-key-coffer': cofferApiKeyRotator({ store }), ... } satisfies RotatorRegistry;
 */
export function cofferApiKeyRotator(
  options: CofferApiKeyRotatorOptions,
): Rotator<CofferApiKeySettings> & { readonly type: 'api-key-coffer' } {
  const registry = new ApiKeyRegistry({ store: options.store, clock: options.clock });

  return {
    type: 'api-key-coffer',

    parseSettings: (input) => parseWith(CofferApiKeySettingsSchema, input, 'api-key-coffer settings'),

    references: () => [],

    async createValue(ctx) {
      valueFields(ctx.current, 'current');
      const issued = await registry.register({
        secretName: ctx.secretName,
        scopes: ctx.settings.scopes,
        rotationToken: ctx.token,
      });
      return withKey(ctx.current, issued);
    },

    async setSecret(ctx, pending) {
      const key = requireKey(pending, 'pending');
      try {
        await registry.register({
          secretName: ctx.secretName,
          scopes: ctx.settings.scopes,
          rotationToken: ctx.token,
          apiKey: key.apiKey,
        });
      } catch (err) {
        if (err instanceof InvalidRequestError) throw new RotationStepError('the pending API key has been revoked');
        if (err instanceof AlreadyExistsError) {
          throw new RotationStepError('the pending API key id is registered to another key or secret');
        }
        throw err;
      }
    },

    async testSecret(ctx, pending) {
      const key = requireKey(pending, 'pending');
      const result = await registry.validate(key.apiKey);
      if (!result.valid) throw new RotationStepError('the pending API key does not validate');
      if (result.keyId !== key.keyId || result.secretName !== ctx.secretName) {
        throw new RotationStepError('the pending API key belongs to another key id or secret');
      }
    },

    async rollback(ctx, pending) {
      const currentKeyId = safeKeyId(ctx.current);
      const keyIds = new Set(await registry.keysOfRotation(ctx.secretName, ctx.token));
      const pendingId = pendingKeyId(ctx, pending);
      // A pending value names a key of this secret, or nothing this rotation may revoke.
      if (pendingId !== undefined && (await registry.describe(pendingId))?.secretName === ctx.secretName) {
        keyIds.add(pendingId);
      }
      for (const keyId of keyIds) if (keyId !== currentKeyId) await registry.revoke(keyId);
    },

    retire(ctx, previous) {
      const retired = retireAfter(previous, ctx.settings.overlapSeconds);
      // The owner goes into the handle, so a value naming another secret's key id cannot get that key revoked.
      return retired === undefined
        ? undefined
        : { ...retired, handle: { ...retired.handle, secretName: ctx.secretName } };
    },

    async revoke(_settings, handle) {
      const keyId = handleKeyId(handle);
      const owner = handle.secretName;
      if (owner !== undefined && (await registry.describe(keyId))?.secretName !== owner) return;
      await registry.revoke(keyId);
    },
  };
}

function safeKeyId(value: Parameters<typeof keyOf>[0]): string | undefined {
  try {
    return keyOf(value, 'current')?.keyId;
  } catch (err) {
    if (err instanceof RotationStepError) return undefined;
    throw err;
  }
}
