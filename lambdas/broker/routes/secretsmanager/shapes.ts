import * as z from 'zod';
import { ValidationError } from '../../../core/errors.ts';
import type { RotationConfigView } from '../../../core/rotation/rotation-service.ts';
import type { RotationRules } from '../../../core/rotation/rotation-types.ts';
import { isWellFormedText } from '../../../core/secrets/secret-schema.ts';
import type { SecretValue } from '../../../core/secrets/secret-types.ts';
import { type AwsErrorAnswer, SECRETS_MANAGER_ERRORS } from './errors.ts';
import { AddReplicaRegions } from './replication-shapes.ts';

/**
 * Request members of the AWS Secrets Manager API, as its JSON 1.1 model names them. The model's own constraints are
 * checked here (types, presence, lengths, enums, patterns), and refused in AWS's validation form by the broker
 * (`lambdas/broker/aws-json-validation.ts`); so is AWS's name character set, which AWS checks before anything else.
 * The domain rules (Coffer's path rules for names, label limits, sizes) are the core's, so both APIs refuse the same
 * things; the compatible API words them as AWS does (`./errors.ts`).
 *
 * Objects are loose: AWS ignores members it does not know, and newer SDKs send members older servers lack.
 */
/**
 * A string member. A lone surrogate (JSON `"\ud800"`) cannot become UTF-8: stored, it would silently turn into U+FFFD,
 * so it is refused up front, in every member, rather than acknowledged and altered.
 */
const text = () => z.string().refine(isWellFormedText, 'must be well-formed Unicode (no lone surrogate)');

/**
 * AWS's name rule, checked before anything else looks at the name (authorisation included), so that a name AWS would
 * refuse gets AWS's answer for every caller rather than a denial of a policy path that cannot exist.
 */
const AWS_NAME = /^[A-Za-z0-9/_+=.@-]+$/;
const nameRule = { params: { aws: SECRETS_MANAGER_ERRORS.invalidName() } };

const SecretId = text()
  .min(1)
  .max(2048)
  .refine((id) => id.startsWith('arn:') || AWS_NAME.test(id), nameRule);
const Token = text().min(32).max(64);
const Blob = z
  .string()
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')
  .refine((s) => s.length % 4 === 0, 'must be base64');
const Tag = z.object({ Key: text().min(1).max(128), Value: text().max(256) });

export const Tags = z.array(Tag).max(50);
export const FilterSchema = z.object({
  // AWS's message names the five original keys only (moto `responses._validate_filters`, copied from AWS).
  Key: z.enum(['description', 'name', 'tag-key', 'tag-value', 'primary-region', 'owning-service', 'all'], {
    error: 'Member must satisfy enum value set: [all, name, tag-key, description, tag-value]',
  }),
  Values: z
    .array(
      z
        .string()
        .max(512)
        // The pattern as the API reference (Filter) writes it, which AWS's message quotes.
        .regex(
          /^!?[a-zA-Z0-9 :_@/+=.\-!]*$/,
          'Member must satisfy regular expression pattern: ^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-\\!]*$',
        ),
    )
    .min(1)
    .max(10)
    .optional(),
});
export type Filter = z.infer<typeof FilterSchema>;

const ValueMembers = {
  SecretString: text().optional(),
  SecretBinary: Blob.optional(),
};

export const CreateSecretRequest = z.looseObject({
  Name: text()
    .min(1)
    .max(512)
    .refine((name) => AWS_NAME.test(name), nameRule),
  ClientRequestToken: Token.optional(),
  Description: text().max(2048).optional(),
  KmsKeyId: text().optional(),
  Tags: Tags.optional(),
  AddReplicaRegions: AddReplicaRegions.optional(),
  ForceOverwriteReplicaSecret: z.boolean().optional(),
  ...ValueMembers,
});

export const GetSecretValueRequest = z.looseObject({
  SecretId,
  VersionId: text().min(32).max(64).optional(),
  VersionStage: text().min(1).max(256).optional(),
});

export const BatchGetSecretValueRequest = z.looseObject({
  SecretIdList: z.array(SecretId).min(1).max(20).optional(),
  Filters: z.array(FilterSchema).max(10).optional(),
  MaxResults: z.number().int().min(1).max(20).optional(),
  NextToken: text().min(1).max(4096).optional(),
});

export const PutSecretValueRequest = z.looseObject({
  SecretId,
  ClientRequestToken: Token.optional(),
  VersionStages: z.array(text().min(1).max(256)).min(1).max(20).optional(),
  RotationToken: text().optional(),
  ...ValueMembers,
});

export const UpdateSecretRequest = z.looseObject({
  SecretId,
  ClientRequestToken: Token.optional(),
  Description: text().max(2048).optional(),
  KmsKeyId: text().optional(),
  ...ValueMembers,
});

export const UpdateSecretVersionStageRequest = z.looseObject({
  SecretId,
  VersionStage: text().min(1).max(256),
  MoveToVersionId: text().min(32).max(64).optional(),
  RemoveFromVersionId: text().min(32).max(64).optional(),
});

export const SecretIdRequest = z.looseObject({ SecretId });

export const ListSecretsRequest = z.looseObject({
  IncludePlannedDeletion: z.boolean().optional(),
  MaxResults: z.number().int().min(1).max(100).optional(),
  NextToken: text().min(1).max(4096).optional(),
  Filters: z.array(FilterSchema).max(10).optional(),
  SortOrder: z.enum(['asc', 'desc']).optional(),
});

export const ListSecretVersionIdsRequest = z.looseObject({
  SecretId,
  MaxResults: z.number().int().min(1).max(100).optional(),
  NextToken: text().min(1).max(4096).optional(),
  IncludeDeprecated: z.boolean().optional(),
});

export const DeleteSecretRequest = z.looseObject({
  SecretId,
  RecoveryWindowInDays: z.number().int().optional(),
  ForceDeleteWithoutRecovery: z.boolean().optional(),
});

export const RotateSecretRequest = z.looseObject({
  SecretId,
  ClientRequestToken: Token.optional(),
  RotationLambdaARN: text().max(2048).optional(),
  RotationRules: z
    .looseObject({
      // Its range is the service's check, answered as InvalidParameterException (see `rotationRulesIn`).
      AutomaticallyAfterDays: z.number().int().optional(),
      Duration: text().min(2).max(3).optional(),
      ScheduleExpression: text().min(1).max(256).optional(),
    })
    .optional(),
  RotateImmediately: z.boolean().optional(),
});

export const TagResourceRequest = z.looseObject({ SecretId, Tags });
export const UntagResourceRequest = z.looseObject({ SecretId, TagKeys: z.array(text().min(1).max(128)).max(50) });

export const GetRandomPasswordRequest = z.looseObject({
  PasswordLength: z.number().int().min(1).max(4096).optional(),
  ExcludeCharacters: text().max(4096).optional(),
  ExcludeNumbers: z.boolean().optional(),
  ExcludePunctuation: z.boolean().optional(),
  ExcludeUppercase: z.boolean().optional(),
  ExcludeLowercase: z.boolean().optional(),
  IncludeSpace: z.boolean().optional(),
  RequireEachIncludedType: z.boolean().optional(),
});

export const PutResourcePolicyRequest = z.looseObject({
  SecretId,
  ResourcePolicy: text().min(1).max(20_480),
  BlockPublicPolicy: z.boolean().optional(),
});

/** The value members of a request: exactly one of SecretString and SecretBinary, or neither where that is allowed. */
export function requestValue(
  request: { SecretString?: string | undefined; SecretBinary?: string | undefined },
  required: boolean,
): SecretValue | undefined {
  if (request.SecretString !== undefined && request.SecretBinary !== undefined) {
    throw new ValidationError(
      "You can't specify both a binary secret value and a string secret value in the same secret.",
    );
  }
  if (request.SecretString !== undefined) return { kind: 'string', string: request.SecretString };
  if (request.SecretBinary !== undefined)
    return { kind: 'binary', binary: Buffer.from(request.SecretBinary, 'base64') };
  if (required) throw new ValidationError('You must provide either SecretString or SecretBinary.');
  return undefined;
}

/** A value as GetSecretValue returns it: SecretString, or SecretBinary as base64 (the JSON form of a blob). */
export function valueMembers(value: SecretValue): { SecretString: string } | { SecretBinary: string } {
  return value.kind === 'string' ? { SecretString: value.string } : { SecretBinary: value.binary.toString('base64') };
}

export function tagMap(tags: readonly { Key: string; Value: string }[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { Key, Value } of tags) out[Key] = Value;
  return out;
}

export function tagList(tags: Readonly<Record<string, string>>): { Key: string; Value: string }[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

/**
 * RotateSecret's RotationRules as the rotation service takes them (validated there).
 *
 * @throws InvalidParameterException when AutomaticallyAfterDays is outside 1–1000, as AWS answers it
 */
export function rotationRulesIn(
  rules: NonNullable<z.infer<typeof RotateSecretRequest>['RotationRules']>,
): RotationRules {
  const days = rules.AutomaticallyAfterDays;
  if (days !== undefined && (days < 1 || days > 1000)) throw smError(SECRETS_MANAGER_ERRORS.rotationDaysOutOfRange());
  return {
    ...(rules.AutomaticallyAfterDays === undefined ? {} : { automaticallyAfterDays: rules.AutomaticallyAfterDays }),
    ...(rules.ScheduleExpression === undefined ? {} : { scheduleExpression: rules.ScheduleExpression }),
    ...(rules.Duration === undefined ? {} : { duration: rules.Duration }),
  };
}

/**
 * The rotation members of DescribeSecret and ListSecrets entries: none for a secret that never had rotation (AWS omits
 * them, LocalStack snapshot `test_rotate_secret_invalid_lambda_arn`); otherwise `RotationEnabled` (false once
 * cancelled), and `RotationRules`, `LastRotatedDate` and `NextRotationDate` (epoch seconds) when the config has them.
 */
export function rotationMembers(config: RotationConfigView | undefined) {
  if (config === undefined) return {};
  const rules = config.rules;
  return {
    RotationEnabled: config.enabled,
    ...(rules === undefined
      ? {}
      : {
          RotationRules: {
            ...(rules.automaticallyAfterDays === undefined
              ? {}
              : { AutomaticallyAfterDays: rules.automaticallyAfterDays }),
            ...(rules.scheduleExpression === undefined ? {} : { ScheduleExpression: rules.scheduleExpression }),
            ...(rules.duration === undefined ? {} : { Duration: rules.duration }),
          },
        }),
    ...(config.lastRotatedAt === undefined ? {} : { LastRotatedDate: epochSeconds(config.lastRotatedAt) }),
    ...(config.enabled && config.nextRotationAt !== undefined
      ? { NextRotationDate: epochSeconds(config.nextRotationAt) }
      : {}),
  };
}

/** AWS timestamps on the wire: epoch seconds, as numbers. */
export function epochSeconds(ms: number): number {
  return ms / 1000;
}

/** A 4xx whose AWS error name is not implied by the core error code. */
export function awsError(type: string, message: string): ValidationError {
  return new ValidationError(message, { details: { awsType: type } });
}

/** One of the catalogue's answers (`./errors.ts`), thrown. */
export function smError(answer: AwsErrorAnswer): ValidationError {
  return awsError(answer.type, answer.message);
}
