import { isCofferError, NotFoundError, PermissionDeniedError, ValidationError } from '../../../core/errors.ts';
import type { Capability } from '../../../core/policy/policy-types.ts';
import type { RotationConfigView } from '../../../core/rotation/rotation-service.ts';
import { cancelRotateSecret, rotateSecret, rotationConfigOf } from '../../../core/rotation/secrets-manager-rotation.ts';
import { arnMatches, parseSecretId } from '../../../core/secrets/secret-fns.ts';
import type { SecretDescription } from '../../../core/secrets/secret-types.ts';
import { toAwsJsonError } from '../../http-errors.ts';
import { defineRoute, type RouteContext, type RouteDef, requireHomeRegion } from '../../route.ts';
import { secretPath } from '../secrets.ts';
import { SECRETS_MANAGER_ERRORS } from './errors.ts';
import { kmsKeyChange, kmsKeyFor } from './kms-keys.ts';
import { decodePageToken, encodePageToken, filtersIn, queryFingerprint } from './list-secrets.ts';
import { randomPassword } from './random-password.ts';
import { replicationRoutes, requestedReplicas } from './replication.ts';
import { replicationMembers, replicationStatusList } from './replication-shapes.ts';
import {
  awsError,
  BatchGetSecretValueRequest,
  CreateSecretRequest,
  DeleteSecretRequest,
  epochSeconds,
  type Filter,
  GetRandomPasswordRequest,
  GetSecretValueRequest,
  ListSecretsRequest,
  ListSecretVersionIdsRequest,
  PutResourcePolicyRequest,
  PutSecretValueRequest,
  RotateSecretRequest,
  requestValue,
  rotationMembers,
  rotationRulesIn,
  SecretIdRequest,
  smError,
  TagResourceRequest,
  tagList,
  tagMap,
  UntagResourceRequest,
  UpdateSecretRequest,
  UpdateSecretVersionStageRequest,
  valueMembers,
} from './shapes.ts';

/**
 * The AWS Secrets Manager API (JSON 1.1 over `POST /`, chosen by `X-Amz-Target`) on top of the same core services as
 * the native API, so existing SDK, CLI and Lambda code works against Coffer by changing only the endpoint.
 *
 * Every operation is authorised against the secret's real name (an ARN is resolved first, reading metadata only),
 * with the same capabilities as the native API. A caller that may not touch a secret cannot learn whether it exists:
 * a missing secret is `ResourceNotFoundException` only for callers allowed to touch that name, and a denial names the
 * secret as the caller did (never the name an ARN resolved to).
 */
const PREFIX = 'secretsmanager.';
const SENSITIVE = ['SecretString', 'SecretBinary', 'RandomPassword'];
const DEFAULT_REGION_PAGE = 100;

/**
 * Where the API is served: at `/`, where unmodified AWS SDKs and the `aws` CLI send it (signed for `secretsmanager`
 * with a Coffer access key), and under `/v1/aws/secretsmanager`, inside the native API's path space, for callers
 * authenticated like native ones (a token, or IAM through API Gateway, whose IAM authoriser guards `/v1/`).
 */
export const SECRETS_MANAGER_PATHS = ['/', '/v1/aws/secretsmanager'] as const;

const auditPath = ({ body }: { body: { SecretId: string } }) => secretPath(body.SecretId);

/** A secret an operation may act on: the id to give the core (a name, or the stored full ARN) and its name. */
interface AuthorisedSecret {
  readonly id: string;
  readonly name: string;
}

/**
 * Authorises `capability` on the secret `secretId` names, by name or by ARN. An ARN is resolved only among the names
 * it can stand for (the tail without its suffix, and the whole tail, since a partial ARN looks like a full one when a
 * name ends in `-xxxxxx`) that the caller may use: a record behind a name the caller may not touch is never read.
 * So a refused caller gets the same answer whether or not a secret is behind the ARN (the denial repeats the ARN as
 * given), and a missing secret is ResourceNotFoundException only for a caller allowed on every such name.
 *
 * The id returned for an ARN is the stored ARN, so that the core, resolving it again, reads only that one record.
 */
async function authorizeSecret(
  ctx: RouteContext,
  secretId: string,
  capability: Exclude<Capability, 'deny'>,
): Promise<AuthorisedSecret> {
  if (!secretId.startsWith('arn:')) {
    await ctx.authorize({ path: secretPath(secretId), capability });
    return { id: secretId, name: secretId };
  }
  const lookup = parseSecretId(secretId, '', accountOf(secretId));
  const candidates = lookup.by === 'arn' ? lookup.candidates : [];
  const denied = () => new PermissionDeniedError(`permission denied: ${capability} on ${secretId}`);
  if (candidates.length === 0) throw denied();
  let refused: string | undefined;
  for (const candidate of candidates) {
    const path = secretPath(candidate.name);
    if (!(await ctx.isAllowed({ path, capability }))) {
      refused ??= path;
      continue;
    }
    await ctx.authorize({ path, capability });
    const found = await describeIfAny(ctx, candidate.name);
    if (found !== undefined && arnMatches(found.arn, candidate)) return { id: found.arn, name: found.name };
  }
  if (refused === undefined) {
    throw new NotFoundError(`secret ${secretId} not found`, { details: { reason: 'secret_not_found' } });
  }
  // Through `authorize`, so the refusal is recorded like any other; its message would name the path, so it is replaced.
  try {
    await ctx.authorize({ path: refused, capability });
  } catch (err) {
    if (!(err instanceof PermissionDeniedError)) throw err;
  }
  throw denied();
}

/** The description of the secret of this name, or `undefined` when there is none (or the name is not valid). */
async function describeIfAny(ctx: RouteContext, name: string): Promise<SecretDescription | undefined> {
  try {
    return await ctx.secrets.describe({ secretId: name });
  } catch (err) {
    if (err instanceof NotFoundError || err instanceof ValidationError) return undefined;
    throw err;
  }
}

/**
 * Whether the caller may read the secret it writes: only then may a retry with a used ClientRequestToken be told
 * apart by value (AWS's idempotent no-op); see `PutSecretValueInput.mayRead`.
 */
function mayRead(ctx: RouteContext, name: string): Promise<boolean> {
  return ctx.isAllowed({ path: secretPath(name), capability: 'read' });
}

/** The ARN and name to report for a secret that does not exist, named as the caller named it. */
function missingSecret(ctx: RouteContext, secretId: string): { ARN: string; Name: string } {
  if (!secretId.startsWith('arn:'))
    return { ARN: ctx.deps.secrets.arnFor(secretId, ctx.signingRegion), Name: secretId };
  const lookup = parseSecretId(secretId, '', accountOf(secretId));
  const name = lookup.by === 'arn' ? lookup.candidates[0]?.name : undefined;
  return { ARN: secretId, Name: name ?? secretId };
}

function accountOf(arn: string): string {
  return arn.split(':')[4] ?? '';
}

/**
 * A DescribeSecret answer, or a ListSecrets entry (whose version map AWS names `SecretVersionsToStages`). Members AWS
 * leaves out are left out: no `Description` when empty, no rotation members for a secret that never had rotation, no
 * `Tags` without tags, no version map for a secret without versions (LocalStack's recorded DescribeSecret and
 * ListSecrets answers: `test_secret_tags`, `test_create_secret_version_from_empty_secret`,
 * `test_call_lists_secrets_multiple_times_snapshots`).
 */
function describeShape(
  d: SecretDescription,
  rotation?: RotationConfigView,
  versions: 'VersionIdsToStages' | 'SecretVersionsToStages' = 'VersionIdsToStages',
) {
  return {
    ARN: d.arn,
    Name: d.name,
    ...(d.description === '' ? {} : { Description: d.description }),
    ...(d.kmsKeyId === undefined ? {} : { KmsKeyId: d.kmsKeyId }),
    ...rotationMembers(rotation),
    LastChangedDate: epochSeconds(d.updatedAt),
    ...(d.deletedAt === undefined ? {} : { DeletedDate: epochSeconds(d.deletedAt) }),
    ...(Object.keys(d.tags).length === 0 ? {} : { Tags: tagList(d.tags) }),
    ...(Object.keys(d.versionIdsToStages).length === 0 ? {} : { [versions]: d.versionIdsToStages }),
    CreatedDate: epochSeconds(d.createdAt),
    ...replicationMembers(d),
  };
}

/** ListSecrets' and BatchGetSecretValue's filters must each name values (moto `responses._validate_filters`). */
function requireFilterValues(filters: readonly Filter[] | undefined): void {
  const bare = filters?.find((f) => f.Values === undefined);
  if (bare !== undefined) throw smError(SECRETS_MANAGER_ERRORS.filterWithoutValues(bare.Key));
}

async function getValue(ctx: RouteContext, input: { secretId: string; versionId?: string; versionStage?: string }) {
  const result = await ctx.secrets.get(input);
  return {
    ARN: result.arn,
    Name: result.name,
    VersionId: result.versionId,
    ...valueMembers(result.value),
    VersionStages: result.versionStages,
    CreatedDate: epochSeconds(result.createdAt),
  };
}

/**
 * The caller's `rotate` on every secret a rotation changes: the secret first, so a caller who may not rotate it
 * learns nothing about its group, then each member.
 */
async function authorizeMembers(ctx: RouteContext, name: string, members: readonly string[]): Promise<void> {
  await ctx.authorize({ path: secretPath(name), capability: 'rotate' });
  for (const member of members) await ctx.authorize({ path: secretPath(member), capability: 'rotate' });
}

/** One page of the secrets the caller may list, in creation order, filtered as ListSecrets' filters select them. */
function listPage(
  ctx: RouteContext,
  query: {
    order: 'asc' | 'desc';
    limit: number;
    after: string | undefined;
    includePlannedDeletion: boolean;
    filters: readonly Filter[];
  },
) {
  return ctx.secrets.listInCreationOrder({
    order: query.order,
    limit: query.limit,
    after: query.after,
    includePlannedDeletion: query.includePlannedDeletion,
    filters: filtersIn(query.filters),
    visible: (name) => ctx.isAllowed({ path: secretPath(name), capability: 'list' }),
  });
}

/** The operations, served at `path`. */
export function secretsManagerRoutes(path: (typeof SECRETS_MANAGER_PATHS)[number]): RouteDef[] {
  const op = (name: string) =>
    ({
      operation: `${PREFIX}${name}`,
      target: `${PREFIX}${name}`,
      method: 'POST',
      path,
      protocol: 'aws-json',
    }) as const;
  return [
    defineRoute({
      ...op('CreateSecret'),
      summary: 'Create a secret (AWS Secrets Manager CreateSecret)',
      mutating: true,
      body: CreateSecretRequest,
      sensitive: SENSITIVE,
      access: ({ body }) => ({ path: secretPath(body.Name), capability: 'create' }),
      async handle({ body }, ctx) {
        const kmsKeyId = await kmsKeyFor(ctx, body.KmsKeyId);
        // Replica regions (and their keys) are checked and authorised before the primary exists, so a refusal leaves
        // nothing behind.
        let replicas: { region: string; kmsKeyId?: string }[] | undefined;
        if (body.AddReplicaRegions !== undefined) {
          ctx.deps.replication.checkReplicaRegions(
            ctx.region,
            body.AddReplicaRegions.map((r) => ({ region: r.Region })),
          );
          replicas = await requestedReplicas(ctx, body.Name, body.AddReplicaRegions);
        }
        const value = requestValue(body, false);
        const created = await ctx.secrets.create({
          name: body.Name,
          description: body.Description,
          tags: body.Tags === undefined ? undefined : tagMap(body.Tags),
          value,
          clientRequestToken: body.ClientRequestToken,
          mayRead: await mayRead(ctx, body.Name),
          ...(kmsKeyId === undefined ? {} : { kmsKeyId }),
        });
        const replicated =
          replicas === undefined
            ? undefined
            : await ctx.deps.replication.addReplicas({
                region: ctx.region,
                secretId: created.arn,
                replicas,
                forceOverwrite: body.ForceOverwriteReplicaSecret,
              });
        return {
          body: {
            ARN: created.arn,
            Name: created.name,
            ...(created.versionId ? { VersionId: created.versionId } : {}),
            ...(replicated === undefined ? {} : { ReplicationStatus: replicationStatusList(replicated.replication) }),
          },
        };
      },
    }),
    defineRoute({
      ...op('GetSecretValue'),
      summary: 'Read a secret value (AWS Secrets Manager GetSecretValue)',
      mutating: false,
      body: GetSecretValueRequest,
      sensitive: SENSITIVE,
      resource: auditPath,
      async handle({ body }, ctx) {
        const { id } = await authorizeSecret(ctx, body.SecretId, 'read');
        return {
          body: await getValue(ctx, {
            secretId: id,
            ...(body.VersionId === undefined ? {} : { versionId: body.VersionId }),
            ...(body.VersionStage === undefined ? {} : { versionStage: body.VersionStage }),
          }),
        };
      },
    }),
    defineRoute({
      ...op('BatchGetSecretValue'),
      summary: 'Read up to 20 secret values (AWS Secrets Manager BatchGetSecretValue)',
      mutating: false,
      body: BatchGetSecretValueRequest,
      sensitive: SENSITIVE,
      resource: () => 'secrets',
      async handle({ body }, ctx) {
        if ((body.SecretIdList === undefined) === (body.Filters === undefined)) {
          throw smError(SECRETS_MANAGER_ERRORS.idsAndFilters());
        }
        requireFilterValues(body.Filters);
        let ids: string[];
        let nextToken: string | undefined;
        if (body.SecretIdList !== undefined) {
          if (body.MaxResults !== undefined) throw smError(SECRETS_MANAGER_ERRORS.maxResultsWithoutFilters());
          if (body.NextToken !== undefined) {
            // No recorded answer for this one; worded as AWS words the MaxResults case.
            throw awsError(
              'InvalidParameterException',
              "'Filters' not specified. 'Filters' must also be specified when 'NextToken' is provided.",
            );
          }
          ids = [...new Set(body.SecretIdList)];
        } else {
          const filters = body.Filters ?? [];
          const fingerprint = queryFingerprint(['batch', filters]);
          const found = await listPage(ctx, {
            order: 'asc',
            limit: body.MaxResults ?? 20,
            after: decodePageToken(body.NextToken, { order: 'asc', fingerprint }),
            includePlannedDeletion: false,
            filters,
          });
          ids = found.secrets.map((s) => s.arn);
          nextToken = found.position === undefined ? undefined : encodePageToken(found.position, fingerprint);
        }
        const SecretValues: unknown[] = [];
        const Errors: { SecretId: string; ErrorCode: string; Message: string }[] = [];
        for (const secretId of ids) {
          try {
            const { id } = await authorizeSecret(ctx, secretId, 'read');
            SecretValues.push(await getValue(ctx, { secretId: id }));
          } catch (err) {
            // One secret's failure is that secret's entry, named as the call would name it; server faults still fail
            // the call.
            const entry = toAwsJsonError(err, 'secretsmanager.GetSecretValue');
            if (!isCofferError(err) || entry.status >= 500) throw err;
            Errors.push({ SecretId: secretId, ErrorCode: entry.type, Message: entry.message });
          }
        }
        return {
          body: {
            SecretValues,
            ...(Errors.length === 0 ? {} : { Errors }),
            ...(nextToken === undefined ? {} : { NextToken: nextToken }),
          },
        };
      },
    }),
    defineRoute({
      ...op('PutSecretValue'),
      summary: 'Store a new version (AWS Secrets Manager PutSecretValue)',
      mutating: true,
      body: PutSecretValueRequest,
      sensitive: [...SENSITIVE, 'RotationToken'],
      resource: auditPath,
      async handle({ body }, ctx) {
        const { id, name } = await authorizeSecret(ctx, body.SecretId, 'update');
        const value = requestValue(body, true)!;
        const result = await ctx.secrets.put({
          secretId: id,
          value,
          clientRequestToken: body.ClientRequestToken,
          versionStages: body.VersionStages,
          mayRead: await mayRead(ctx, name),
        });
        return {
          body: {
            ARN: result.arn,
            Name: result.name,
            VersionId: result.versionId,
            VersionStages: result.versionStages,
          },
        };
      },
    }),
    defineRoute({
      ...op('UpdateSecret'),
      summary: 'Change the description, or store a new current value (AWS Secrets Manager UpdateSecret)',
      mutating: true,
      body: UpdateSecretRequest,
      sensitive: SENSITIVE,
      resource: auditPath,
      async handle({ body }, ctx) {
        const { id, name } = await authorizeSecret(ctx, body.SecretId, 'update');
        const keyChange = await kmsKeyChange(ctx, id, body.KmsKeyId);
        const value = requestValue(body, false);
        const updated = await ctx.secrets.updateSecret({
          ...keyChange,
          secretId: id,
          description: body.Description,
          value,
          clientRequestToken: body.ClientRequestToken,
          mayRead: value !== undefined && (await mayRead(ctx, name)),
        });
        return {
          body: {
            ARN: updated.arn,
            Name: updated.name,
            ...(updated.versionId === undefined ? {} : { VersionId: updated.versionId }),
          },
        };
      },
    }),
    defineRoute({
      ...op('UpdateSecretVersionStage'),
      summary: 'Move a staging label (AWS Secrets Manager UpdateSecretVersionStage)',
      mutating: true,
      body: UpdateSecretVersionStageRequest,
      resource: auditPath,
      async handle({ body }, ctx) {
        const { id } = await authorizeSecret(ctx, body.SecretId, 'update');
        const ref = await ctx.secrets.updateVersionStage({
          secretId: id,
          versionStage: body.VersionStage,
          moveToVersionId: body.MoveToVersionId,
          removeFromVersionId: body.RemoveFromVersionId,
        });
        return { body: { ARN: ref.arn, Name: ref.name } };
      },
    }),
    defineRoute({
      ...op('DescribeSecret'),
      summary: 'Describe a secret (AWS Secrets Manager DescribeSecret)',
      mutating: false,
      body: SecretIdRequest,
      resource: auditPath,
      async handle({ body }, ctx) {
        const { id } = await authorizeSecret(ctx, body.SecretId, 'read');
        const secret = await ctx.secrets.describe({ secretId: id });
        // Rotation configs are the home region's: a secret of the same name elsewhere has none.
        const rotation =
          ctx.region === ctx.deps.regionalSecrets.homeRegion
            ? await rotationConfigOf(ctx.deps, secret.name)
            : undefined;
        return { body: describeShape(secret, rotation) };
      },
    }),
    defineRoute({
      ...op('ListSecrets'),
      summary: 'List secrets the caller may list, with filters, order and paging (AWS Secrets Manager ListSecrets)',
      mutating: false,
      body: ListSecretsRequest,
      resource: () => 'secrets',
      async handle({ body }, ctx) {
        requireFilterValues(body.Filters);
        const filters = body.Filters ?? [];
        const order = body.SortOrder ?? 'asc';
        const includePlannedDeletion = body.IncludePlannedDeletion ?? false;
        const fingerprint = queryFingerprint(['list', filters, order, includePlannedDeletion]);
        const found = await listPage(ctx, {
          order,
          limit: body.MaxResults ?? DEFAULT_REGION_PAGE,
          after: decodePageToken(body.NextToken, { order, fingerprint }),
          includePlannedDeletion,
          filters,
        });
        // The page's configs only: reading every config made each page cost as much as there are rotating secrets.
        const home = ctx.region === ctx.deps.regionalSecrets.homeRegion;
        const configs =
          (home ? await ctx.deps.rotation?.configsOf(found.secrets.map((d) => d.name)) : undefined) ?? new Map();
        return {
          body: {
            SecretList: found.secrets.map((d) => describeShape(d, configs.get(d.name), 'SecretVersionsToStages')),
            ...(found.position === undefined ? {} : { NextToken: encodePageToken(found.position, fingerprint) }),
          },
        };
      },
    }),
    defineRoute({
      ...op('ListSecretVersionIds'),
      summary: "List a secret's versions (AWS Secrets Manager ListSecretVersionIds)",
      mutating: false,
      body: ListSecretVersionIdsRequest,
      resource: auditPath,
      async handle({ body }, ctx) {
        const { id } = await authorizeSecret(ctx, body.SecretId, 'read');
        const ref = await ctx.secrets.describe({ secretId: id });
        let result: Awaited<ReturnType<typeof ctx.secrets.listVersions>>;
        try {
          result = await ctx.secrets.listVersions({
            secretId: id,
            includeDeprecated: body.IncludeDeprecated,
            limit: body.MaxResults,
            cursor: body.NextToken,
          });
        } catch (err) {
          if (body.NextToken !== undefined && isCofferError(err) && err.code === 'validation') {
            throw awsError('InvalidNextTokenException', 'The NextToken value is not valid.');
          }
          throw err;
        }
        return {
          body: {
            ARN: ref.arn,
            Name: ref.name,
            // A deprecated version has no VersionStages member at all (LocalStack snapshot
            // `test_deprecated_secret_version_stage`).
            Versions: result.versions.map((v) => ({
              VersionId: v.versionId,
              ...(v.versionStages.length === 0 ? {} : { VersionStages: v.versionStages }),
              CreatedDate: epochSeconds(v.createdAt),
            })),
            ...(result.nextCursor === undefined ? {} : { NextToken: result.nextCursor }),
          },
        };
      },
    }),
    defineRoute({
      ...op('DeleteSecret'),
      summary: 'Schedule a deletion, or delete at once (AWS Secrets Manager DeleteSecret)',
      mutating: true,
      body: DeleteSecretRequest,
      resource: auditPath,
      async handle({ body }, ctx) {
        const window = body.RecoveryWindowInDays;
        const force = body.ForceDeleteWithoutRecovery === true;
        if (window !== undefined && (window < 7 || window > 30)) {
          throw smError(SECRETS_MANAGER_ERRORS.recoveryWindowOutOfRange());
        }
        if (window !== undefined && force) throw smError(SECRETS_MANAGER_ERRORS.windowWithForce());
        try {
          const { id } = await authorizeSecret(ctx, body.SecretId, 'delete');
          const result = await ctx.secrets.delete({
            secretId: id,
            recoveryWindowDays: window,
            forceDeleteWithoutRecovery: force,
          });
          return { body: { ARN: result.arn, Name: result.name, DeletionDate: epochSeconds(result.deletionDate) } };
        } catch (err) {
          // Forcing the deletion of a secret that is not there succeeds, so that a retried deletion does too ("the
          // operation does not return ResourceNotFoundException", API reference of ForceDeleteWithoutRecovery), with
          // an ARN such a secret would have (moto `delete_secret`). Only a caller allowed to delete the name gets here.
          if (!force || !(err instanceof NotFoundError) || err.details?.reason !== 'secret_not_found') throw err;
          return { body: { ...missingSecret(ctx, body.SecretId), DeletionDate: epochSeconds(ctx.deps.clock.now()) } };
        }
      },
    }),
    defineRoute({
      ...op('RestoreSecret'),
      summary: 'Cancel a scheduled deletion (AWS Secrets Manager RestoreSecret)',
      mutating: true,
      body: SecretIdRequest,
      resource: auditPath,
      async handle({ body }, ctx) {
        const { id } = await authorizeSecret(ctx, body.SecretId, 'update');
        const ref = await ctx.secrets.restore({ secretId: id });
        return { body: { ARN: ref.arn, Name: ref.name } };
      },
    }),
    defineRoute({
      ...op('RotateSecret'),
      summary:
        "Start a rotation with the secret's Coffer rotation config, or change its RotationRules (AWS Secrets Manager " +
        'RotateSecret). RotationLambdaARN is accepted and ignored: Coffer runs its own rotation engines.',
      mutating: true,
      body: RotateSecretRequest,
      resource: auditPath,
      async handle({ body }, ctx) {
        const { id } = await authorizeSecret(ctx, body.SecretId, 'rotate');
        requireHomeRegion(ctx, 'RotateSecret');
        const rotated = await rotateSecret(ctx.deps, {
          secretId: id,
          rules: body.RotationRules === undefined ? undefined : rotationRulesIn(body.RotationRules),
          rotateImmediately: body.RotateImmediately,
          clientRequestToken: body.ClientRequestToken,
          authorizeRotation: (name, members) => authorizeMembers(ctx, name, members),
        });
        return {
          body: {
            ARN: rotated.arn,
            Name: rotated.name,
            ...(rotated.rotationId === undefined ? {} : { VersionId: rotated.rotationId }),
          },
        };
      },
    }),
    defineRoute({
      ...op('CancelRotateSecret'),
      summary: 'Turn rotation off (AWS Secrets Manager CancelRotateSecret)',
      mutating: true,
      body: SecretIdRequest,
      resource: auditPath,
      async handle({ body }, ctx) {
        const { id } = await authorizeSecret(ctx, body.SecretId, 'rotate');
        requireHomeRegion(ctx, 'CancelRotateSecret');
        const ref = await cancelRotateSecret(ctx.deps, id);
        return { body: { ARN: ref.arn, Name: ref.name } };
      },
    }),
    defineRoute({
      ...op('TagResource'),
      summary: 'Add or replace tags (AWS Secrets Manager TagResource)',
      mutating: true,
      body: TagResourceRequest,
      resource: auditPath,
      async handle({ body }, ctx) {
        const { id } = await authorizeSecret(ctx, body.SecretId, 'update');
        await ctx.secrets.tag({ secretId: id, tags: tagMap(body.Tags) });
        return { body: {} };
      },
    }),
    defineRoute({
      ...op('UntagResource'),
      summary: 'Remove tags (AWS Secrets Manager UntagResource)',
      mutating: true,
      body: UntagResourceRequest,
      resource: auditPath,
      async handle({ body }, ctx) {
        const { id } = await authorizeSecret(ctx, body.SecretId, 'update');
        await ctx.secrets.untag({ secretId: id, tagKeys: body.TagKeys });
        return { body: {} };
      },
    }),
    defineRoute({
      ...op('GetRandomPassword'),
      summary: 'Generate a random password (AWS Secrets Manager GetRandomPassword)',
      mutating: false,
      body: GetRandomPasswordRequest,
      sensitive: SENSITIVE,
      // Any authenticated caller: it reads no data.
      resource: () => 'sys/random-password',
      async handle({ body }) {
        return {
          body: {
            RandomPassword: randomPassword({
              length: body.PasswordLength,
              excludeCharacters: body.ExcludeCharacters,
              excludeNumbers: body.ExcludeNumbers,
              excludePunctuation: body.ExcludePunctuation,
              excludeUppercase: body.ExcludeUppercase,
              excludeLowercase: body.ExcludeLowercase,
              includeSpace: body.IncludeSpace,
              requireEachIncludedType: body.RequireEachIncludedType,
            }),
          },
        };
      },
    }),
    defineRoute({
      ...op('GetResourcePolicy'),
      summary: "Read a secret's resource policy (AWS Secrets Manager GetResourcePolicy)",
      mutating: false,
      body: SecretIdRequest,
      resource: auditPath,
      async handle({ body }, ctx) {
        const { id } = await authorizeSecret(ctx, body.SecretId, 'read');
        const secret = await ctx.secrets.describe({ secretId: id });
        return {
          body: {
            ARN: secret.arn,
            Name: secret.name,
            ...(secret.resourcePolicy === undefined ? {} : { ResourcePolicy: secret.resourcePolicy }),
          },
        };
      },
    }),
    defineRoute({
      ...op('PutResourcePolicy'),
      summary: 'Attach a resource policy, enforced with Coffer policies (AWS Secrets Manager PutResourcePolicy)',
      mutating: true,
      body: PutResourcePolicyRequest,
      resource: auditPath,
      async handle({ body }, ctx) {
        const { id } = await authorizeSecret(ctx, body.SecretId, 'sudo');
        const ref = await ctx.secrets.putResourcePolicy({
          secretId: id,
          policy: body.ResourcePolicy,
          blockPublicPolicy: body.BlockPublicPolicy,
        });
        return { body: { ARN: ref.arn, Name: ref.name } };
      },
    }),
    defineRoute({
      ...op('DeleteResourcePolicy'),
      summary: "Remove a secret's resource policy (AWS Secrets Manager DeleteResourcePolicy)",
      mutating: true,
      body: SecretIdRequest,
      resource: auditPath,
      async handle({ body }, ctx) {
        const { id } = await authorizeSecret(ctx, body.SecretId, 'sudo');
        const ref = await ctx.secrets.deleteResourcePolicy({ secretId: id });
        return { body: { ARN: ref.arn, Name: ref.name } };
      },
    }),
    ...replicationRoutes({ op, authorizeSecret }),
  ];
}
