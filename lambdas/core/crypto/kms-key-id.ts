import * as z from 'zod';
import { ValidationError } from '../errors.ts';

/**
 * The forms of a `KmsKeyId`, as AWS Secrets Manager and KMS accept them: `alias/<name>`, a key id, a key ARN
 * (`arn:aws:kms:<region>:<account>:key/<id>`) or an alias ARN (`…:alias/<name>`). A bare name is a key id, never an
 * alias: AWS answers `Invalid keyId` for it (boto/boto3#1753, hashicorp/terraform-provider-aws#13303).
 */
export type KmsKeyRef =
  | { readonly kind: 'alias'; readonly name: string; readonly region?: string; readonly account?: string }
  | { readonly kind: 'key'; readonly id: string; readonly region?: string; readonly account?: string };

/**
 * An alias name without its `alias/` prefix, as KMS constrains it (CreateAlias: `alias/` + `[a-zA-Z0-9:/_-]`, up to
 * 256 characters in all); `aws/` is reserved for AWS managed keys. Colons are left out: they would be ambiguous in
 * an alias ARN and in a policy path.
 */
export const AliasNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9/_-]{1,250}$/, 'an alias name is 1–250 letters, digits, /, _ and -')
  .refine((name) => !name.startsWith('aws/'), 'alias names starting with aws/ are reserved for AWS managed keys')
  .refine((name) => !name.startsWith('/') && !name.endsWith('/') && !name.includes('//'), 'empty alias segment');

const KEY_ID = /^[A-Za-z0-9-]{1,128}$/;
const ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):(key|alias)\/(.+)$/;

/** Parses a `KmsKeyId`; `undefined` when it is none of the accepted forms. */
export function parseKmsKeyId(given: string): KmsKeyRef | undefined {
  const arn = ARN.exec(given);
  if (arn !== null) {
    const [, region, account, kind, rest] = arn as unknown as [string, string, string, string, string];
    if (kind === 'key') return KEY_ID.test(rest) ? { kind: 'key', id: rest, region, account } : undefined;
    return AliasNameSchema.safeParse(rest).success ? { kind: 'alias', name: rest, region, account } : undefined;
  }
  if (given.startsWith('alias/')) {
    const name = given.slice('alias/'.length);
    return AliasNameSchema.safeParse(name).success ? { kind: 'alias', name } : undefined;
  }
  return KEY_ID.test(given) ? { kind: 'key', id: given } : undefined;
}

/** The name of an alias for `coffer keyring key create`, which accepts it with or without the `alias/` prefix. */
export function aliasName(alias: string): string {
  const name = alias.startsWith('alias/') ? alias.slice('alias/'.length) : alias;
  const parsed = AliasNameSchema.safeParse(name);
  if (!parsed.success)
    throw new ValidationError(`invalid alias ${JSON.stringify(alias)}: ${parsed.error.issues[0]!.message}`);
  return name;
}

/** The key ARN of a key id in a region and account. */
export function keyArn(region: string, account: string, keyId: string): string {
  return `arn:aws:kms:${region}:${account}:key/${keyId}`;
}

/** The key id at the end of a key ARN, or `undefined` when `arn` is not a key ARN. */
export function keyIdOfArn(arn: string): string | undefined {
  const ref = parseKmsKeyId(arn);
  return ref?.kind === 'key' && ref.region !== undefined ? ref.id : undefined;
}
