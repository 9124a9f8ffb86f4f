/**
 * Shapes of the SDK's inputs and outputs. Outputs use the AWS Secrets Manager JSON names (`ARN`, `SecretString`,
 * `CreatedDate` in epoch seconds, ...) so code written against `GetSecretValue` reads Coffer's answers unchanged, and
 * the Lambda extension can serve them as they are.
 */

export interface GetSecretValueInput {
  /** The secret's name. */
  readonly secretId: string;
  /** A specific version; its value never changes. */
  readonly versionId?: string | undefined;
  /** A staging label. @default 'AWSCURRENT' when no versionId is given */
  readonly versionStage?: string | undefined;
}

/** The `GetSecretValue` response, exactly as Secrets Manager's JSON protocol spells it. */
export interface GetSecretValueOutput {
  readonly ARN: string;
  readonly Name: string;
  readonly VersionId: string;
  /** Set when the value is text. */
  readonly SecretString?: string;
  /** Set when the value is bytes: base64, as on the wire. */
  readonly SecretBinary?: string;
  readonly VersionStages: readonly string[];
  /** When this version was created, in epoch seconds. */
  readonly CreatedDate: number;
}

/** `DescribeSecret`-like metadata; no value, so reading it costs no decryption. Dates are epoch seconds. */
export interface SecretDescription {
  readonly ARN: string;
  readonly Name: string;
  readonly Description: string;
  readonly Tags: Readonly<Record<string, string>>;
  readonly Metadata: Readonly<Record<string, string>>;
  readonly CreatedDate: number;
  readonly LastChangedDate: number;
  /** Set while the secret is scheduled for deletion. */
  readonly DeletedDate?: number;
  readonly DeletionDate?: number;
  /** Versions that carry at least one staging label. */
  readonly VersionIdsToStages: Readonly<Record<string, readonly string[]>>;
}

export interface PutSecretValueInput {
  readonly secretId: string;
  /** The new value as text; give this or `secretBinary`. */
  readonly secretString?: string | undefined;
  readonly secretBinary?: Uint8Array | undefined;
  /**
   * Becomes the version id. Sending the same token and value again is a no-op, which is what makes a retried put
   * safe. @default a random UUID, generated once per call and reused by its retries
   */
  readonly clientRequestToken?: string | undefined;
  /** @default ['AWSCURRENT'] (the previous current version becomes AWSPREVIOUS) */
  readonly versionStages?: readonly string[] | undefined;
}

export interface PutSecretValueOutput {
  readonly ARN: string;
  readonly Name: string;
  readonly VersionId: string;
  readonly VersionStages: readonly string[];
}

/** One failed secret of a batch get, as `BatchGetSecretValue` reports it. */
export interface BatchGetError {
  readonly SecretId: string;
  /** The error's class name, e.g. `CofferNotFoundError`. */
  readonly ErrorCode: string;
  readonly Message: string;
  readonly error: Error;
}

export interface BatchGetOutput {
  readonly SecretValues: GetSecretValueOutput[];
  readonly Errors: BatchGetError[];
}
