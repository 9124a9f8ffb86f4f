import { ValidationError } from '../errors.ts';
import { CREATION_ORDER_PARTITION } from './secret-creation-order.ts';
import { SECRETS_PARTITION } from './secret-types.ts';

/**
 * Where one region's secrets live in the store. Secrets are regional, as in AWS: a name is unique within its region
 * only, so each region has its own metadata and creation-order partitions. Version partitions need no region of their
 * own: they are keyed by the secret's ARN, which names the region.
 */
export interface SecretPartitions {
  /** One `SecretRecord` per secret, keyed by name. */
  readonly secrets: string;
  /** The creation-order index ListSecrets reads (`secret-creation-order.ts`). */
  readonly creationOrder: string;
}

/** The home region's partitions keep their names from before regions existed, so existing stores stay readable. */
export const HOME_PARTITIONS: SecretPartitions = {
  secrets: SECRETS_PARTITION,
  creationOrder: CREATION_ORDER_PARTITION,
};

/** The separator of a regional partition name: `secrets@us-west-2`. Not a name character, so never ambiguous. */
const REGION_SEPARATOR = '@';

/** The partitions of `region`'s secrets on a node whose home region is `home`. */
export function secretPartitionsFor(region: string, home: string): SecretPartitions {
  if (region === home) return HOME_PARTITIONS;
  return {
    secrets: `${SECRETS_PARTITION}${REGION_SEPARATOR}${region}`,
    creationOrder: `${CREATION_ORDER_PARTITION}${REGION_SEPARATOR}${region}`,
  };
}

/**
 * AWS's region name form: a partition-style prefix and a location, then a number (`us-east-1`, `eu-central-2`,
 * `us-gov-west-1`, `ap-southeast-5`). Anything else is refused before it can name a partition.
 */
const REGION_FORM = /^[a-z]{2}(?:-[a-z]+){1,3}-\d{1,2}$/;

/**
 * Checks a region name: AWS's form, and, when the node lists the regions it serves, one of them.
 *
 * @throws ValidationError naming the region when it is not one the node serves
 */
export function checkRegion(region: string, allowed?: readonly string[]): string {
  if (typeof region !== 'string' || !REGION_FORM.test(region)) {
    throw new ValidationError('region must be an AWS region name such as us-east-1');
  }
  if (allowed !== undefined && allowed.length > 0 && !allowed.includes(region)) {
    throw new ValidationError(`region ${region} is not served by this node`);
  }
  return region;
}
