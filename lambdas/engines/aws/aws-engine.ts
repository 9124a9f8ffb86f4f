import { randomBytes } from 'node:crypto';
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import * as z from 'zod';
import { dependencyUnavailable, isUnavailableAwsError } from '../../core/aws-errors.ts';
import { DurationSchema } from '../../core/duration.ts';
import { InternalError, isCofferError, NotFoundError, ValidationError } from '../../core/errors.ts';
import type { DynamicProvider, HandleOf, RoleLimits } from '../../core/leases/lease-types.ts';
import type { Store } from '../../core/ports/store.ts';

export const AWS_ROLE_PK = 'aws/roles';

/** STS refuses sessions shorter than 15 minutes or longer than 12 hours. */
const STS_MIN_SECONDS = 900;
const STS_MAX_SECONDS = 43_200;

export const AwsRoleSchema = z
  .object({
    role_arn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'must be an IAM role ARN'),
    /** Inline session policy (JSON text): the session gets the intersection of it and the role's policies. */
    policy_document: z
      .string()
      .max(2048)
      .refine((text) => {
        try {
          return typeof JSON.parse(text) === 'object';
        } catch {
          return false;
        }
      }, 'must be a JSON policy document')
      .optional(),
    default_ttl: DurationSchema.default(3600),
    max_ttl: DurationSchema.default(STS_MAX_SECONDS),
    max_leases: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict()
  .refine((r) => r.default_ttl >= STS_MIN_SECONDS && r.max_ttl <= STS_MAX_SECONDS && r.default_ttl <= r.max_ttl, {
    message: `TTLs must lie within STS limits (${STS_MIN_SECONDS}-${STS_MAX_SECONDS} s) with default_ttl ≤ max_ttl`,
  });

export type AwsRole = z.infer<typeof AwsRoleSchema>;

/**
 * Short-lived AWS credentials: STS AssumeRole with an inline session policy, for the lease's TTL.
 *
 * STS sessions cannot be revoked one by one; they end at their expiry, which is the lease's TTL (at least STS's
 * 15-minute floor). Revoking the lease therefore only ends Coffer's record of it; `revoke` succeeds without a call.
 *
 * @example
 * ```ts
 * const aws = new AwsEngine({ store, sts: new STSClient({}) });
 * await aws.putRole('deploy', { role_arn: 'arn:aws:iam::123456789012:role/deploy', policy_document: '{...}' });
 * ```
 */
export class AwsEngine implements DynamicProvider<'aws'> {
  readonly kind = 'aws' as const;

  constructor(private readonly options: { store: Store; sts: Pick<STSClient, 'send'> }) {}

  async putRole(name: string, input: z.input<typeof AwsRoleSchema>): Promise<AwsRole> {
    if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(name)) throw new ValidationError('invalid aws role name');
    const parsed = AwsRoleSchema.safeParse(input);
    if (!parsed.success) throw new ValidationError(`invalid aws role: ${parsed.error.issues[0]!.message}`);
    await this.options.store.transact([{ type: 'put', pk: AWS_ROLE_PK, sk: name, data: parsed.data }]);
    return parsed.data;
  }

  async getRole(name: string): Promise<AwsRole> {
    const item = await this.options.store.get<AwsRole>(AWS_ROLE_PK, name);
    if (item === undefined) throw new NotFoundError(`aws role ${name} not found`);
    return item.data;
  }

  /** Every role's name, in name order. */
  async listRoles(): Promise<string[]> {
    const names: string[] = [];
    let startAfter: string | undefined;
    do {
      const page = await this.options.store.query(AWS_ROLE_PK, {
        limit: 1000,
        ...(startAfter === undefined ? {} : { startAfter }),
      });
      names.push(...page.items.map((item) => item.sk));
      startAfter = page.lastKey;
    } while (startAfter !== undefined);
    return names;
  }

  /**
   * Deletes a role. Its live leases stay listed and revocable (their handles carry what revocation needs) and their
   * STS sessions end at their own expiry; no new credentials are issued for it.
   *
   * @throws NotFoundError when there is no such role
   */
  async deleteRole(name: string): Promise<void> {
    await this.getRole(name);
    await this.options.store.transact([{ type: 'delete', pk: AWS_ROLE_PK, sk: name }]);
  }

  async roleLimits(role: string): Promise<RoleLimits> {
    const r = await this.getRole(role);
    return { defaultTtlSeconds: r.default_ttl, maxTtlSeconds: r.max_ttl, maxLeases: r.max_leases };
  }

  async issue(role: string, ttlSeconds: number) {
    const r = await this.getRole(role);
    const out = await this.options.sts
      .send(
        new AssumeRoleCommand({
          RoleArn: r.role_arn,
          RoleSessionName: `coffer-${role}-${randomBytes(4).toString('hex')}`.slice(0, 64),
          DurationSeconds: Math.min(STS_MAX_SECONDS, Math.max(STS_MIN_SECONDS, ttlSeconds)),
          Policy: r.policy_document,
        }),
      )
      .catch((err: unknown) => {
        // A typed error (no region configured) is the caller's to read; anything else is logged by its name and
        // the operation that failed, never shown.
        if (isCofferError(err)) throw err;
        if (isUnavailableAwsError(err))
          throw dependencyUnavailable('STS', 'AssumeRole', err, 'no credential was issued');
        throw new InternalError(`STS AssumeRole failed: ${err instanceof Error ? err.name : typeof err}`, {
          cause: err,
        });
      });
    const c = out.Credentials;
    if (c?.AccessKeyId === undefined || c.SecretAccessKey === undefined || c.SessionToken === undefined) {
      throw new InternalError('STS returned no credentials');
    }
    return {
      credential: {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiration: (c.Expiration ?? new Date()).toISOString(),
      },
      revokeHandle: { role, roleArn: r.role_arn, accessKeyId: c.AccessKeyId },
    };
  }

  async revoke(_handle: HandleOf<'aws'>): Promise<void> {
    // Nothing to call: see the class comment.
  }
}
