import type { CofferError } from '../../../core/errors.ts';

/**
 * The error catalogue of the Secrets Manager-compatible API: for each condition the core tells apart (its error's
 * `details.reason`), the `__type` and message AWS Secrets Manager answers with, word for word, so that clients which
 * match on them (SDK retry and existence checks, Terraform, scripts grepping the CLI's output) cannot tell Coffer from
 * AWS. The native API keeps the core's own messages; only the compatible API speaks AWS's.
 *
 * Sources, cited per entry: the Secrets Manager API reference (docs.aws.amazon.com/secretsmanager/latest/apireference),
 * real responses recorded by LocalStack's snapshot tests (localstack/localstack
 * `tests/aws/services/secretsmanager/test_secretsmanager.snapshot.json`, recorded against AWS) and moto 5.2.1
 * (`moto/secretsmanager/models.py`, whose messages are copied from AWS's answers).
 *
 * Every answer here is a client error (HTTP 400); a condition without an entry keeps the core's type and message,
 * with Coffer's parameter spellings replaced by AWS's (`RENAMES`).
 */
export interface AwsErrorAnswer {
  readonly type: string;
  readonly message: string;
}

type Details = Readonly<Record<string, unknown>>;

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/** The messages AWS gives, by condition. Functions of the error's details where AWS names a version or a label. */
export const SECRETS_MANAGER_ERRORS = {
  /** LocalStack snapshot `test_secret_not_found` (GetSecretValue, ListSecretVersionIds); moto SecretNotFoundException. */
  secretNotFound: (): AwsErrorAnswer => ({
    type: 'ResourceNotFoundException',
    message: "Secrets Manager can't find the specified secret.",
  }),
  /** LocalStack snapshot `test_secret_version_not_found`. */
  versionNotFound: (versionId: string): AwsErrorAnswer => ({
    type: 'ResourceNotFoundException',
    message: `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`,
  }),
  /** LocalStack snapshots `test_get_secret_value_errors` and `test_secret_version_not_found`. */
  stageNotFound: (stage: string): AwsErrorAnswer => ({
    type: 'ResourceNotFoundException',
    message: `Secrets Manager can't find the specified secret value for staging label: ${stage}`,
  }),
  /** LocalStack snapshot `test_get_secret_value_errors` (`mismatch_version_id_and_stage`). */
  stageNotOnVersion: (): AwsErrorAnswer => ({
    type: 'InvalidRequestException',
    message: 'You provided a VersionStage that is not associated to the provided VersionId.',
  }),
  /**
   * A read or write of a secret pending deletion. Real AWS answers recorded in public issues:
   * external-secrets/kubernetes-external-secrets#114 (GetSecretValue), hashicorp/terraform-provider-aws#23998.
   */
  markedForDeletion: (): AwsErrorAnswer => ({
    type: 'InvalidRequestException',
    message: "You can't perform this operation on the secret because it was marked for deletion.",
  }),
  /** DeleteSecret of a secret already pending deletion: moto `delete_secret`; the API reference's first cause. */
  alreadyScheduled: (): AwsErrorAnswer => ({
    type: 'InvalidRequestException',
    message: "You tried to perform the operation on a secret that's currently marked deleted.",
  }),
  /** LocalStack snapshot `test_exp_raised_on_creation_of_secret_scheduled_for_deletion`. */
  scheduledForDeletion: (): AwsErrorAnswer => ({
    type: 'InvalidRequestException',
    message: "You can't create this secret because a secret with this name is already scheduled for deletion.",
  }),
  /** LocalStack snapshot `test_secret_exists_snapshots`. */
  secretExists: (name: string): AwsErrorAnswer => ({
    type: 'ResourceExistsException',
    message: `The operation failed because the secret ${name} already exists.`,
  }),
  /** moto `_check_with_existing_secrets_and_versions`. */
  tokenInUse: (token: string, arn: string): AwsErrorAnswer => ({
    type: 'ResourceExistsException',
    message: `You can't use ClientRequestToken ${token} because that value is already in use for a version of secret ${arn}.`,
  }),
  /**
   * CancelRotateSecret on a secret without rotation: the API reference's InvalidRequestException cause, as moto
   * `cancel_rotate_secret` answers it.
   */
  rotationNotConfigured: (): AwsErrorAnswer => ({
    type: 'InvalidRequestException',
    message:
      "You tried to enable rotation on a secret that doesn't already have a Lambda function ARN configured and you " +
      "didn't include such an ARN as a parameter in this call.",
  }),
  /** moto `update_secret_version_stage`. */
  notAValidVersion: (versionId: string): AwsErrorAnswer => ({
    type: 'InvalidParameterException',
    message: `Not a valid version: ${versionId}`,
  }),
  /** moto `update_secret_version_stage`. */
  labelNotOnVersion: (label: string, versionId: string): AwsErrorAnswer => ({
    type: 'InvalidParameterException',
    message: `Version stage ${label} not found in version ${versionId}`,
  }),
  /** moto `update_secret_version_stage` (AWS's words for AWSCURRENT; the same rule for every label). */
  labelAttachedElsewhere: (label: string, versionId: string): AwsErrorAnswer => ({
    type: 'InvalidParameterException',
    message:
      `The parameter RemoveFromVersionId can't be empty. Staging label ${label} is currently attached to version ` +
      `${versionId}, so you must explicitly reference that version in RemoveFromVersionId.`,
  }),
  /** moto `delete_secret`. */
  recoveryWindowOutOfRange: (): AwsErrorAnswer => ({
    type: 'InvalidParameterException',
    message: 'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).',
  }),
  /** moto `delete_secret`. */
  windowWithForce: (): AwsErrorAnswer => ({
    type: 'InvalidParameterException',
    message: "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
  }),
  /** moto `rotate_secret`. */
  rotationDaysOutOfRange: (): AwsErrorAnswer => ({
    type: 'InvalidParameterException',
    message: 'RotationRules.AutomaticallyAfterDays must be within 1-1000.',
  }),
  /** moto `responses._validate_filters`. */
  filterWithoutValues: (key: string): AwsErrorAnswer => ({
    type: 'InvalidParameterException',
    message: `Invalid filter values for key: ${key}`,
  }),
  /** moto `batch_get_secret_value`. */
  idsAndFilters: (): AwsErrorAnswer => ({
    type: 'InvalidParameterException',
    message: "Either 'SecretIdList' or 'Filters' must be provided, but not both.",
  }),
  /** moto `batch_get_secret_value`. */
  maxResultsWithoutFilters: (): AwsErrorAnswer => ({
    type: 'InvalidParameterException',
    message: "'Filters' not specified. 'Filters' must also be specified when 'MaxResults' is provided.",
  }),
  /** moto `get_random_password` (a length below the number of character types each password must hold). */
  passwordTooShort: (): AwsErrorAnswer => ({
    type: 'InvalidParameterException',
    message: 'Password length is too short based on the required types.',
  }),
  /**
   * A secret's write rate exceeded: the words AWS's throttled answers carry, as quoted in public issues
   * (external-secrets/kubernetes-external-secrets#491, external-secrets/external-secrets#4065). A rate-limit quota
   * (Coffer's own, set by an operator) keeps its message, which names the quota to look for.
   */
  rateExceeded: (): AwsErrorAnswer => ({ type: 'ThrottlingException', message: 'Rate exceeded' }),
  /**
   * A name outside AWS's character set, answered before authorisation. LocalStack snapshot
   * `test_invalid_secret_name` (names with spaces, `*`, `?`), for every operation it tried.
   */
  invalidName: (): AwsErrorAnswer => ({
    type: 'ValidationException',
    message: 'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
  }),
} as const;

const E = SECRETS_MANAGER_ERRORS;

/** The core's conditions (`details.reason`) in AWS's words; `operation` where AWS words one differently. */
const BY_REASON: Readonly<Record<string, (d: Details, operation: string) => AwsErrorAnswer | undefined>> = {
  secret_not_found: () => E.secretNotFound(),
  version_not_found: (d, operation) =>
    operation === 'secretsmanager.UpdateSecretVersionStage'
      ? E.notAValidVersion(text(d.versionId))
      : E.versionNotFound(text(d.versionId)),
  stage_not_found: (d) => E.stageNotFound(text(d.stage)),
  stage_not_on_version: () => E.stageNotOnVersion(),
  marked_for_deletion: () => E.markedForDeletion(),
  already_scheduled: () => E.alreadyScheduled(),
  scheduled_for_deletion: () => E.scheduledForDeletion(),
  secret_exists: (d) => E.secretExists(text(d.name)),
  token_in_use: (d) => E.tokenInUse(text(d.versionId), text(d.arn)),
  label_not_on_version: (d) => E.labelNotOnVersion(text(d.label), text(d.versionId)),
  label_attached_elsewhere: (d) => E.labelAttachedElsewhere(text(d.label), text(d.versionId)),
  window_with_force: () => E.windowWithForce(),
  // RotateSecret keeps the core's explanation: AWS's words would tell a caller who gave a RotationLambdaARN that it
  // gave none, while what is missing is a Coffer rotation config.
  rotation_not_configured: (_d, operation) =>
    operation === 'secretsmanager.CancelRotateSecret' ? E.rotationNotConfigured() : undefined,
};

/** Coffer's parameter spellings in core messages, and AWS's for them. */
const RENAMES: readonly (readonly [RegExp, string])[] = (
  [
    ['recoveryWindowDays', 'RecoveryWindowInDays'],
    ['forceDeleteWithoutRecovery', 'ForceDeleteWithoutRecovery'],
    ['clientRequestToken', 'ClientRequestToken'],
    ['removeFromVersionId', 'RemoveFromVersionId'],
    ['moveToVersionId', 'MoveToVersionId'],
    ['versionStages', 'VersionStages'],
    ['versionId', 'VersionId'],
    ['secretId', 'SecretId'],
    ['resourcePolicy', 'ResourcePolicy'],
  ] as const
).map(([coffer, aws]) => [new RegExp(`\\b${coffer}\\b`, 'g'), aws] as const);

/**
 * A typed core error of a client fault as AWS Secrets Manager answers it: AWS's type and message for a condition in
 * the catalogue; otherwise only the message, with AWS's parameter spellings (the type then follows the error's code),
 * or `undefined` when the core's message stands as it is. `operation` is the route's (`secretsmanager.<Operation>`).
 */
export function secretsManagerAnswer(
  err: CofferError,
  operation: string | undefined,
): { readonly type?: string; readonly message: string } | undefined {
  const reason = err.details?.reason;
  if (err.code === 'throttled' && reason === undefined) return E.rateExceeded();
  // A denial's reason is the policy rule that refused it, not a condition of the catalogue.
  if (typeof reason === 'string' && err.code !== 'permission_denied') {
    const answer = BY_REASON[reason]?.(err.details ?? {}, operation ?? '');
    if (answer !== undefined) return answer;
  }
  const renamed = RENAMES.reduce((message, [coffer, aws]) => message.replace(coffer, aws), err.message);
  return renamed === err.message ? undefined : { message: renamed };
}
