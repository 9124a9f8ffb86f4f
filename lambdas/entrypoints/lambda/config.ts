import * as z from 'zod';
import { MIN_AUDIT_SALT_BYTES } from '../../core/audit/audit-hmac.ts';
import { ValidationError } from '../../core/errors.ts';

/** `arn:<partition>:kms:<region>:<account>:key/<key id>`: an alias would let `kms:UpdateAlias` re-point the key. */
export const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:(\d{12}):key\/[A-Za-z0-9-]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-<6 chars>`: a full ARN, never a bare name. */
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;
/**
 * One exact IAM or STS ARN (no `*`): a bootstrap admin is a named principal, never a pattern. Later mappings, made by
 * that admin through the API, may use patterns.
 */
const ADMIN_ARN = /^arn:aws[a-z-]*:(?:iam|sts)::\d{12}:[^*\s,]+$/;
/** The deployment name, as `CofferControlPlane` accepts it. */
const DEPLOYMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** `arn:<partition>:states:<region>:<account>:stateMachine:<name>`. */
const STATE_MACHINE_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$/;
/** `arn:<partition>:iam::<account>:role/<path/name>`. */
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[A-Za-z0-9+=,.@_/-]{1,512}$/;
/** `arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`. */
const FUNCTION_ARN =
  /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(?::[A-Za-z0-9$_-]{1,128})?$/;
/** An EventBridge bus name, or its ARN. */
export const EVENT_BUS = /^(?:arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/)?[A-Za-z0-9._/-]{1,256}$/;
/** The rotation settings that come together: all of them, or none (rotation is then not configured). */
const ROTATION_SETTINGS = [
  'COFFER_ROTATION_STATE_MACHINE_ARN',
  'COFFER_ROTATION_SCHEDULE_GROUP',
  'COFFER_ROTATION_SCHEDULER_ROLE_ARN',
  'COFFER_ROTATION_TARGET_ARN',
] as const;

/** The CRL base URL when `COFFER_PUBLIC_URL` is unset (the local node's default address). */
export const DEFAULT_PUBLIC_URL = 'http://127.0.0.1:8270';

/** The audit salt as the schema accepts it: base64 of at least {@link MIN_AUDIT_SALT_BYTES} bytes. */
export const AuditSaltSchema = z
  .string()
  .regex(BASE64, 'must be base64')
  .refine((value) => Buffer.from(value, 'base64').length >= MIN_AUDIT_SALT_BYTES, {
    message: `must decode to at least ${MIN_AUDIT_SALT_BYTES} bytes`,
  });

/** Environment values are strings or absent; an empty string is as good as absent. */
const required = () => z.string({ error: 'is required' }).min(1, 'is required');

/**
 * Every setting more than one Lambda function reads, defined once: a name parses the same way in the broker, the
 * rotation function, the lease sweeper and the audit relay. Each function's schema picks the ones it needs
 * (`LambdaSettings.pick`) and adds its own. Keys are the variable names, so a failure names the setting.
 */
export const LambdaSettings = z.object({
  /**
   * Where engines may connect (API-key providers, database hosts): comma-separated entries as the local node's
   * `COFFER_EGRESS_ALLOW` (`core/egress/egress-policy.ts`). @default '' (nothing)
   */
  COFFER_EGRESS_ALLOW: z.string().max(8192).optional(),
  /**
   * Set in a replica region's deployment (to its region): its audit records go to an outbox of their own in the
   * global table, shipped by its own relay (`AuditOutboxOptions.scope`). @default none
   */
  COFFER_AUDIT_OUTBOX_SCOPE: z
    .string()
    .regex(/^[a-z0-9-]{1,64}$/, 'must be a region name')
    .optional(),
  /**
   * Set in a replica region's deployment to the primary deployment's region: the region whose secrets keep the
   * global table's original partition names (`RegionalSecretsOptions.storeRegion`). @default AWS_REGION
   */
  COFFER_STORE_REGION: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/, 'must be an AWS region')
    .optional(),
  /** The items table (partition key `pk`, sort key `sk`). */
  COFFER_TABLE_NAME: required().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name'),
  /** ARN of the symmetric KMS key that wraps data keys. */
  COFFER_ENVELOPE_KEY_ARN: required().regex(KMS_KEY_ARN, 'must be a KMS key ARN'),
  /** The Object-Locked audit bucket. */
  COFFER_AUDIT_BUCKET: required().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name'),
  /** Set by the Lambda runtime. */
  AWS_REGION: required().regex(/^[a-z0-9-]{1,32}$/, 'must be an AWS region'),
  /** Used in secret ARNs. @default the account of `COFFER_ENVELOPE_KEY_ARN` */
  COFFER_ACCOUNT_ID: z
    .string()
    .regex(/^\d{12}$/, 'must be 12 digits')
    .optional(),
  /** Points every SDK client at an emulator. Never set in a deployment. @default the AWS endpoints */
  AWS_ENDPOINT_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
});

/** The account secret ARNs are in: `COFFER_ACCOUNT_ID`, else the envelope key's. */
export function accountOf(env: { COFFER_ACCOUNT_ID?: string | undefined; COFFER_ENVELOPE_KEY_ARN: string }): string {
  return env.COFFER_ACCOUNT_ID ?? KMS_KEY_ARN.exec(env.COFFER_ENVELOPE_KEY_ARN)![1]!;
}

/** The egress allow-list as `core/egress/egress-policy.ts` parses it; unset allows nothing. */
export function egressAllowOf(env: { COFFER_EGRESS_ALLOW?: string | undefined }): string {
  return env.COFFER_EGRESS_ALLOW ?? '';
}

/**
 * Parses a Lambda function's environment with its schema: only the variables the schema names are looked at, and an
 * empty one counts as unset.
 * @throws ValidationError naming the first bad setting, e.g. `invalid configuration COFFER_ENVELOPE_KEY_ARN: must
 * be a KMS key ARN`. The message never contains a setting's value (the salt is key material).
 *
 * @example
 * const config = loadLambdaConfig(LeaseSweeperConfigSchema, process.env);
 */
export function loadLambdaConfig<Schema extends z.ZodPipe<z.ZodObject>>(
  schema: Schema,
  env: NodeJS.ProcessEnv,
): z.output<Schema> {
  const picked = Object.fromEntries(
    Object.keys(schema.in.shape)
      .map((name) => [name, env[name] === '' ? undefined : env[name]])
      .filter(([, value]) => value !== undefined),
  );
  const parsed = schema.safeParse(picked);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationError(`invalid configuration ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * The broker's and the rotation function's environment, parsed once per cold start.
 * There are no defaults for key material: the envelope key and the audit salt come from the deployment.
 */
export const AwsConfigSchema = LambdaSettings.pick({
  COFFER_AUDIT_OUTBOX_SCOPE: true,
  COFFER_STORE_REGION: true,
  COFFER_EGRESS_ALLOW: true,
  COFFER_TABLE_NAME: true,
  COFFER_ENVELOPE_KEY_ARN: true,
  COFFER_AUDIT_BUCKET: true,
})
  .extend({
    /**
     * Base64 of at least 32 random bytes keying the audit HMACs. Every instance must share it, or the same value hashes
     * differently across streams. For tests and emulators: a deployment sets `COFFER_AUDIT_SALT_SECRET_ARN` instead,
     * so the salt never sits in the function's configuration. Exactly one of the two is required.
     */
    COFFER_AUDIT_SALT: AuditSaltSchema.optional(),
    /**
     * ARN of the Secrets Manager secret whose string is the audit salt (same format as `COFFER_AUDIT_SALT`). Read once
     * per cold start, before the first request is served.
     */
    COFFER_AUDIT_SALT_SECRET_ARN: z.string().regex(SECRET_ARN, 'must be a Secrets Manager secret ARN').optional(),
    /**
     * Comma-separated exact IAM/STS ARNs that get Coffer's built-in `root` policy: how the first admin of a fresh
     * deployment gets in (there is no root token on AWS). Keep it short, and map everyone else through the API.
     * @default none
     */
    COFFER_BOOTSTRAP_ADMIN_ARNS: z
      .string()
      .transform((value) =>
        value
          .split(',')
          .map((arn) => arn.trim())
          .filter((arn) => arn !== ''),
      )
      .pipe(
        z
          .array(z.string().regex(ADMIN_ARN, 'must be comma-separated IAM or STS ARNs without *'))
          .max(20, 'must list at most 20 ARNs'),
      )
      .optional(),
    AWS_REGION: LambdaSettings.shape.AWS_REGION,
    COFFER_ACCOUNT_ID: LambdaSettings.shape.COFFER_ACCOUNT_ID,
    AWS_ENDPOINT_URL: LambdaSettings.shape.AWS_ENDPOINT_URL,
    /**
     * The API's base URL (the stage URL). Issued certificates carry `<url>/v1/pki/crl` as CRL distribution point.
     * @default {@link DEFAULT_PUBLIC_URL}, for emulators and tests: a deployment sets it
     */
    COFFER_PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    /**
     * The deployment's name. CA keys created in KMS are tagged `coffer:ca=<name>`, and the broker's IAM policy only
     * lets it create, and sign with, keys carrying that tag. @default 'coffer'
     */
    COFFER_DEPLOYMENT_NAME: z.string().regex(DEPLOYMENT_NAME, "must be 1-64 letters, digits, '_' or '-'").optional(),
    /**
     * The rotation workflow (a standard state machine, `lib/coffer-rotation.ts`). Unset: rotation is not configured.
     * The four `COFFER_ROTATION_*` settings come together.
     */
    COFFER_ROTATION_STATE_MACHINE_ARN: z.string().regex(STATE_MACHINE_ARN, 'must be a state machine ARN').optional(),
    /** The EventBridge Scheduler group holding one rotation schedule per secret. */
    COFFER_ROTATION_SCHEDULE_GROUP: z
      .string()
      .regex(/^[0-9A-Za-z_.-]{1,64}$/, "must be 1-64 letters, digits, '.', '_' or '-'")
      .optional(),
    /** The role EventBridge Scheduler assumes to invoke the rotation function. */
    COFFER_ROTATION_SCHEDULER_ROLE_ARN: z.string().regex(ROLE_ARN, 'must be an IAM role ARN').optional(),
    /** The rotation function, which the schedules invoke. */
    COFFER_ROTATION_TARGET_ARN: z.string().regex(FUNCTION_ARN, 'must be a Lambda function ARN').optional(),
    /** Where rotation events go. @default 'default' */
    COFFER_EVENT_BUS_NAME: z.string().regex(EVENT_BUS, 'must be an event bus name or ARN').optional(),
    /**
     * `true` when the stack placed the broker in a VPC (`CofferStack`'s `ldap.vpc`): only then can it reach an LDAP
     * directory, so only then may an LDAP auth method be enabled. @default false
     */
    COFFER_BROKER_IN_VPC: z.enum(['true', 'false']).optional(),
    /**
     * The web console's origin (`CofferConsole`'s distribution, `https://<id>.cloudfront.net`): every answer carries
     * `Access-Control-Allow-Origin` for it, and for nothing else. An origin only: https, no path, never `*`.
     * @default no CORS
     */
    COFFER_CONSOLE_ORIGIN: z
      .string()
      .regex(/^https:\/\/[a-z0-9.-]+(?::\d{1,5})?$/, 'must be an https origin (scheme and host, no path)')
      .optional(),
  })
  .superRefine((env, ctx) => {
    const rotationSet = ROTATION_SETTINGS.filter((name) => env[name] !== undefined);
    if (rotationSet.length > 0 && rotationSet.length < ROTATION_SETTINGS.length) {
      const missing = ROTATION_SETTINGS.find((name) => env[name] === undefined)!;
      ctx.addIssue({ code: 'custom', path: [missing], message: `is required with ${rotationSet[0]}` });
    }
    if (env.COFFER_AUDIT_SALT === undefined && env.COFFER_AUDIT_SALT_SECRET_ARN === undefined) {
      ctx.addIssue({ code: 'custom', path: ['COFFER_AUDIT_SALT'], message: 'is required' });
    } else if (env.COFFER_AUDIT_SALT !== undefined && env.COFFER_AUDIT_SALT_SECRET_ARN !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['COFFER_AUDIT_SALT_SECRET_ARN'],
        message: 'cannot be combined with COFFER_AUDIT_SALT',
      });
    }
  })
  .transform((env) => ({
    tableName: env.COFFER_TABLE_NAME,
    envelopeKeyArn: env.COFFER_ENVELOPE_KEY_ARN,
    auditBucket: env.COFFER_AUDIT_BUCKET,
    /** The salt given inline; `undefined` when it is to be read from `auditSaltSecretArn`. */
    auditSalt: env.COFFER_AUDIT_SALT === undefined ? undefined : Buffer.from(env.COFFER_AUDIT_SALT, 'base64'),
    auditSaltSecretArn: env.COFFER_AUDIT_SALT_SECRET_ARN,
    outboxScope: env.COFFER_AUDIT_OUTBOX_SCOPE,
    storeRegion: env.COFFER_STORE_REGION,
    bootstrapAdminArns: env.COFFER_BOOTSTRAP_ADMIN_ARNS ?? [],
    region: env.AWS_REGION,
    account: accountOf(env),
    endpoint: env.AWS_ENDPOINT_URL,
    publicUrl: env.COFFER_PUBLIC_URL ?? DEFAULT_PUBLIC_URL,
    deploymentName: env.COFFER_DEPLOYMENT_NAME ?? 'coffer',
    egressAllow: egressAllowOf(env),
    brokerInVpc: env.COFFER_BROKER_IN_VPC === 'true',
    consoleOrigin: env.COFFER_CONSOLE_ORIGIN,
    /** Where rotations run and schedules live; `undefined` when rotation is not configured. */
    rotation:
      env.COFFER_ROTATION_STATE_MACHINE_ARN === undefined
        ? undefined
        : {
            stateMachineArn: env.COFFER_ROTATION_STATE_MACHINE_ARN,
            scheduleGroup: env.COFFER_ROTATION_SCHEDULE_GROUP!,
            schedulerRoleArn: env.COFFER_ROTATION_SCHEDULER_ROLE_ARN!,
            targetArn: env.COFFER_ROTATION_TARGET_ARN!,
            eventBusName: env.COFFER_EVENT_BUS_NAME ?? 'default',
          },
  }));

/** Where the rotation machinery lives (see `compose-rotation.ts`). */
export type RotationConfig = NonNullable<AwsConfig['rotation']>;

/** The AWS runtime's settings, as the composition root uses them. */
export type AwsConfig = z.output<typeof AwsConfigSchema>;

/**
 * Parses the broker's (and the rotation function's) environment.
 * @throws ValidationError naming the first bad setting, never its value (see {@link loadLambdaConfig}).
 */
export function loadAwsConfig(env: NodeJS.ProcessEnv = process.env): AwsConfig {
  return loadLambdaConfig(AwsConfigSchema, env);
}
