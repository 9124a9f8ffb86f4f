import { keyIdOfArn, parseKmsKeyId } from '../../core/crypto/kms-key-id.ts';
import { InvalidRequestError, NotFoundError, ValidationError } from '../../core/errors.ts';
import type { CustomerKey } from '../../core/ports/key-ring.ts';
import { requireService } from '../features.ts';
import type { AccessCheck, RouteContext } from '../route.ts';

/**
 * Policy path of a customer key: `sys/keyring/keys/<alias name>` (without `alias/`), or `sys/keyring/keys/<key id>`.
 * Names are validated (`parseKmsKeyId`) before this is used.
 */
export const keyPath = (name: string): string => `sys/keyring/keys/${name}`;

/**
 * Sealing a secret under a key, or re-encrypting it from one, needs `read` on the key's path: the caller acts with
 * its own authority, as AWS requires the caller's `kms:GenerateDataKey`/`kms:Decrypt` on the key. `read`, because
 * using a key is what reading it means (a key's material is never shown); creating one needs `sudo`.
 */
const useKey = (path: string): AccessCheck => ({ path, capability: 'read' });

/**
 * Authorises the caller to use the key `kmsKeyId` (alias, key id, key ARN or alias ARN) and resolves it. Allowed by
 * `read` on the path of the name it was given by, or, for a key given by id or ARN, on one of its aliases' paths.
 * A refused caller gets the same `PermissionDeniedError` whether or not the key exists.
 *
 * @throws ValidationError when `kmsKeyId` is not a key id of any form
 * @throws PermissionDeniedError when the caller may not use the key
 * @throws NotFoundError, InvalidRequestError as `KeyRing.resolve` does
 */
export async function authorizeKey(ctx: RouteContext, kmsKeyId: string): Promise<CustomerKey> {
  const keys = requireService(ctx.deps, 'keys');
  const ref = parseKmsKeyId(kmsKeyId);
  if (ref === undefined) throw new ValidationError('Invalid keyId');
  const named = useKey(keyPath(ref.kind === 'alias' ? ref.name : ref.id));
  if (await ctx.isAllowed(named)) {
    await ctx.authorize(named);
    return keys.resolve(kmsKeyId);
  }
  if (ref.kind === 'key') {
    // Metadata only, and its failure answers as a refusal would: a refused caller learns nothing of the key.
    const key = await keys.resolve(kmsKeyId).catch((err: unknown) => {
      if (err instanceof NotFoundError || err instanceof InvalidRequestError) return undefined;
      throw err;
    });
    for (const alias of key?.aliases ?? []) {
      const check = useKey(keyPath(alias));
      if (!(await ctx.isAllowed(check))) continue;
      await ctx.authorize(check);
      return key!;
    }
  }
  // Through `authorize`, so that the refusal is recorded and answered like any other.
  await ctx.authorize(named);
  return keys.resolve(kmsKeyId);
}

/**
 * Whether the caller may use the key a secret names now (`kmsKeyArn`; `undefined`: the default key, which everyone
 * may use), without failing: a key change re-encrypts the existing versions only for a caller who may decrypt them,
 * as AWS does.
 */
export async function mayUseKey(ctx: RouteContext, kmsKeyArn: string | undefined): Promise<boolean> {
  if (kmsKeyArn === undefined) return true;
  const keys = ctx.deps.keys;
  if (keys === undefined) return false;
  const key = await keys.resolve(kmsKeyArn).catch(() => undefined);
  const names = [keyIdOfArn(kmsKeyArn), ...(key?.aliases ?? [])];
  for (const name of names) {
    if (name === undefined) continue;
    if (await ctx.isAllowed(useKey(keyPath(name)))) return true;
  }
  return false;
}
