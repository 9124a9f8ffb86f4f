import { ValidationError } from './errors.ts';

/**
 * AWS's region name form: a partition-style prefix and a location, then a number (`us-east-1`, `eu-central-2`,
 * `us-gov-west-1`, `ap-southeast-5`). Anything else is refused before it can name a partition or match a policy.
 */
export const REGION_NAME = /^[a-z]{2}(?:-[a-z]+){1,3}-\d{1,2}$/;

/**
 * Checks a region name: AWS's form, and, when the node lists the regions it serves, one of them.
 *
 * @throws ValidationError naming the region when it is not one the node serves
 */
export function checkRegion(region: string, allowed?: readonly string[]): string {
  if (typeof region !== 'string' || !REGION_NAME.test(region)) {
    throw new ValidationError('region must be an AWS region name such as us-east-1');
  }
  if (allowed !== undefined && allowed.length > 0 && !allowed.includes(region)) {
    throw new ValidationError(`region ${region} is not served by this node`);
  }
  return region;
}
