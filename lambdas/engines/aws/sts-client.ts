import { STSClient } from '@aws-sdk/client-sts';
import { InvalidRequestError } from '../../core/errors.ts';

/**
 * `aws/<role>` credentials were asked for on a node that knows no AWS region. The operator must act, not the caller,
 * but the message is the caller's only clue: it names the setting, and nothing else is wrong with the request. A
 * client error (400, `invalid_request`), as `FeatureNotEnabledError` is for an engine a runtime lacks.
 */
export class AwsRegionMissingError extends InvalidRequestError {
  constructor(options: { cause?: unknown } = {}) {
    super('AWS credentials need a region: set AWS_REGION (or AWS_DEFAULT_REGION) for the server', {
      ...options,
      details: { feature: 'aws', setting: 'AWS_REGION' },
    });
  }
}

/**
 * The STS client of a node whose region comes from its environment: `region` (AWS_REGION, else AWS_DEFAULT_REGION,
 * which the SDK alone does not read) or else the SDK's own chain (the profile's `region` in the shared config file).
 * With none of them, the first call fails with {@link AwsRegionMissingError} instead of the SDK's anonymous
 * `Error: Region is missing`. Credentials and endpoint come from the SDK's usual chain (AWS_ENDPOINT_URL, profiles);
 * nothing is called until a role issues.
 *
 * @example
 * ```ts
 * const sts = stsClientFor(config.awsRegion); // undefined: the shared config's region, or a named error on use
 * ```
 */
export function stsClientFor(region: string | undefined): STSClient {
  if (region !== undefined) return new STSClient({ region });
  // Only asked for its region: the client that sends is the one below.
  const sdkDefaults = new STSClient({});
  return new STSClient({
    region: async () => {
      try {
        return await sdkDefaults.config.region();
      } catch (err) {
        throw new AwsRegionMissingError({ cause: err });
      }
    },
  });
}
