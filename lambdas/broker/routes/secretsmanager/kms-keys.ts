import {
  FeatureNotEnabledError,
  InvalidRequestError,
  NotFoundError,
  PermissionDeniedError,
  ValidationError,
} from '../../../core/errors.ts';
import type { CustomerKey } from '../../../core/ports/key-ring.ts';
import type { RouteContext } from '../../route.ts';
import { authorizeKey, mayUseKey } from '../key-access.ts';
import { awsError } from './shapes.ts';

/** The AWS managed key's alias: naming it is naming the default key (AWS: "alias/aws/secretsmanager"). */
const AWS_MANAGED_ALIAS = 'alias/aws/secretsmanager';

/**
 * The key ARN a `KmsKeyId` of CreateSecret/UpdateSecret names (what DescribeSecret then shows, as in the AWS CLI's
 * describe-secret example: `"KmsKeyId": "arn:aws:kms:us-west-2:123456789012:key/…"`, whatever form was given), with the caller authorised to use it; `undefined` for
 * the default key (an empty string or `alias/aws/secretsmanager`, as AWS reads them: API_UpdateSecret, KmsKeyId).
 * Refusals in AWS's words:
 * - a malformed or unknown key: `InvalidParameterException` "The operation failed because of an invalid KMS key:
 *   <KMS's message>" (the form in hashicorp/terraform-provider-aws#13303; KMS's own "Invalid keyId", "Alias … is not
 *   found." follow the colon);
 * - a caller who may not use the key: `AccessDeniedException` "Access to KMS is not allowed" (aws/aws-cdk#7677,
 *   external-secrets/kubernetes-external-secrets#838);
 * - a disabled key, or one pending deletion: `EncryptionFailure`, with the API reference's description of it.
 */
export async function kmsKeyFor(ctx: RouteContext, kmsKeyId: string | undefined): Promise<string | undefined> {
  return (await customerKeyFor(ctx, kmsKeyId))?.arn;
}

/** The customer key `kmsKeyFor` resolves, whole; `undefined` for the default key. */
export async function customerKeyFor(
  ctx: RouteContext,
  kmsKeyId: string | undefined,
): Promise<CustomerKey | undefined> {
  if (kmsKeyId === undefined || kmsKeyId === '' || kmsKeyId === AWS_MANAGED_ALIAS) return undefined;
  try {
    return await authorizeKey(ctx, kmsKeyId);
  } catch (err) {
    // A permission error still (the broker records it as the refusal it is), in AWS's words.
    if (err instanceof PermissionDeniedError)
      throw new PermissionDeniedError('Access to KMS is not allowed', { cause: err });
    if (err instanceof ValidationError || err instanceof NotFoundError) {
      throw awsError('InvalidParameterException', `The operation failed because of an invalid KMS key: ${err.message}`);
    }
    if (err instanceof InvalidRequestError && !(err instanceof FeatureNotEnabledError)) {
      throw awsError(
        'EncryptionFailure',
        "Secrets Manager can't encrypt the protected secret text using the provided KMS key. Check that the KMS key " +
          'is available, enabled, and not in an invalid state.',
      );
    }
    throw err;
  }
}

/**
 * UpdateSecret's key change for the secret `secretId` (its name or stored ARN): nothing when `KmsKeyId` is absent;
 * otherwise the new key (`null`: the default key) and whether to re-encrypt the labelled versions, which AWS does only
 * for a caller allowed to decrypt them under the previous key (userguide/manage_update-encryption-key.html).
 */
export async function kmsKeyChange(
  ctx: RouteContext,
  secretId: string,
  kmsKeyId: string | undefined,
): Promise<{ kmsKeyId?: string | null; reencrypt?: boolean }> {
  if (kmsKeyId === undefined) return {};
  const next = (await kmsKeyFor(ctx, kmsKeyId)) ?? null;
  const previous = (await ctx.deps.secrets.describe({ secretId })).kmsKeyId;
  return { kmsKeyId: next, reencrypt: await mayUseKey(ctx, previous) };
}
