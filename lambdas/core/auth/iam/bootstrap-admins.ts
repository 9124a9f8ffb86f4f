import { ROOT_POLICY_NAME } from '../../policy/policy-types.ts';
import type { Principal } from '../../principal.ts';
import { describeCaller } from './iam-principal-service.ts';

/**
 * Wraps the IAM principal lookup so the deployment's bootstrap admins (`COFFER_BOOTSTRAP_ADMIN_ARNS`) always get the
 * built-in `root` policy, on top of whatever their mappings give. A role ARN also covers that role's STS sessions,
 * as with the stored mappings. Everyone else is resolved by `resolve` unchanged.
 */
export function withBootstrapAdmins(
  resolve: (arn: string) => Promise<Principal | undefined>,
  adminArns: readonly string[],
): (arn: string) => Promise<Principal | undefined> {
  if (adminArns.length === 0) return resolve;
  const admins = new Set(adminArns);
  return async (arn) => {
    const identity = describeCaller(arn);
    if (identity === undefined || !identity.candidates.some((candidate) => admins.has(candidate))) {
      return resolve(arn);
    }
    const mapped = await resolve(arn);
    return {
      type: 'iam',
      id: arn,
      displayName: identity.displayName,
      policies: [...new Set([ROOT_POLICY_NAME, ...(mapped?.policies ?? [])])].sort(),
      metadata: { ...identity.metadata, bootstrapAdmin: 'true' },
    };
  };
}
