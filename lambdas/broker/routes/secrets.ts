import * as z from 'zod';
import * as api from '../../api/index.ts';
import { NotFoundError, PermissionDeniedError, ValidationError } from '../../core/errors.ts';
import { isWellFormedText, SecretNameSchema } from '../../core/secrets/secret-schema.ts';
import { defineRoute, type RouteDef } from '../route.ts';
import { authorizeKey, mayUseKey } from './key-access.ts';
import {
  ExpirationBody,
  expirationReferences,
  expirationView,
  expiryWarning,
  toExpirationInput,
} from './secret-expiration.ts';
import { iso, Pagination, QueryBool, SecretNameParam, StringMap, toSecretValue, ValueFields } from './wire.ts';

/** Policy path of a secret. Names are validated before this is used, so the path is canonical. */
export const secretPath = (name: string): string => `secrets/${name}`;

/** Listing `prod/` needs `list` on `secrets/prod`; listing the root needs `list` on `secrets`. */
const listPath = (prefix: string): string => (prefix === '' ? 'secrets' : `secrets/${prefix.replace(/\/+$/, '')}`);

/** A string member; a lone surrogate would be stored as U+FFFD, so it is refused rather than silently altered. */
const text = () => z.string().refine(isWellFormedText, 'must be well-formed Unicode (no lone surrogate)');

function readValue(value: { kind: 'string'; string: string } | { kind: 'binary'; binary: Buffer }) {
  return value.kind === 'string' ? { value: value.string } : { binary: value.binary.toString('base64') };
}

const CreateBody = ValueFields.extend({
  name: SecretNameSchema,
  description: text().max(2048).optional(),
  tags: StringMap.optional(),
  metadata: StringMap.optional(),
  clientRequestToken: text().min(1).max(64).optional(),
  /** A customer key (alias/<name>, key id or ARN) to seal the secret under; needs `read` on its key path. */
  kmsKeyId: text().min(1).max(2048).optional(),
  /** When reads of the value end (docs/expiration.md). */
  expiration: ExpirationBody.optional(),
}).strict();

const PutBody = ValueFields.extend({
  clientRequestToken: text().min(1).max(64).optional(),
  stages: z.array(text().min(1).max(256)).min(1).max(20).optional(),
  cas: z
    .object({ ifVersionId: text().min(1).max(64).optional(), ifAbsent: z.boolean().optional() })
    .strict()
    .refine((c) => !(c.ifVersionId !== undefined && c.ifAbsent === true), 'give ifVersionId or ifAbsent, not both')
    .optional(),
}).strict();

const ReadQuery = z
  .object({ versionId: text().min(1).max(64).optional(), stage: text().min(1).max(256).optional() })
  .strict();

const UpdateBody = z
  .object({
    description: text().max(2048).optional(),
    metadata: StringMap.optional(),
    addTags: StringMap.optional(),
    removeTagKeys: z.array(text().min(1).max(128)).max(50).optional(),
    /**
     * A new key for the secret (`null`: the default key). Re-encrypts the AWSCURRENT, AWSPENDING and AWSPREVIOUS
     * versions when the caller may use the previous key too, as AWS does.
     */
    kmsKeyId: text().min(1).max(2048).nullable().optional(),
    /** A new expiration policy (starts afresh); `null` removes it. */
    expiration: ExpirationBody.nullable().optional(),
  })
  .strict();

const DeleteQuery = z
  .object({ recoveryWindowDays: z.coerce.number().int().optional(), force: QueryBool.optional() })
  .strict();

const StageBody = z
  .object({
    stage: text().min(1).max(256),
    moveToVersionId: text().min(1).max(64).optional(),
    removeFromVersionId: text().min(1).max(64).optional(),
  })
  .strict();

const VersionsQuery = Pagination.extend({ includeDeprecated: QueryBool.optional() }).strict();

const ListQuery = Pagination.extend({
  recursive: QueryBool.optional(),
  includePlannedDeletion: QueryBool.optional(),
}).strict();

const PrefixParam = z.object({ prefix: text().max(512).optional() });

export const secretRoutes: RouteDef[] = [
  defineRoute({
    operation: 'secret.create',
    method: 'POST',
    path: '/v1/secrets',
    summary: 'Create a secret, optionally with its first value',
    mutating: true,
    response: api.SecretCreated,
    statuses: [201],
    body: CreateBody,
    sensitive: ['value', 'binary'],
    access: ({ body }) => ({ path: secretPath(body.name), capability: 'create' }),
    references: async ({ body }) => expirationReferences(body.expiration),
    async handle({ body }, ctx) {
      const { secrets, isAllowed } = ctx;
      const value = toSecretValue(body);
      const key = body.kmsKeyId === undefined ? undefined : await authorizeKey(ctx, body.kmsKeyId);
      const created = await secrets.create({
        ...(key === undefined ? {} : { kmsKeyId: key.arn }),
        name: body.name,
        description: body.description,
        tags: body.tags,
        metadata: body.metadata,
        clientRequestToken: body.clientRequestToken,
        ...(value === undefined ? {} : { value }),
        ...(body.expiration === undefined ? {} : { expiration: toExpirationInput(body.expiration) }),
        // A retry is told apart by value only for a reader; see CreateSecretInput.mayRead.
        mayRead: await isAllowed({ path: secretPath(body.name), capability: 'read' }),
      });
      return { status: 201, body: created };
    },
  }),
  defineRoute({
    operation: 'secret.read',
    method: 'GET',
    path: '/v1/secret/data/{name+}',
    summary: 'Read a secret value (AWSCURRENT unless a stage or version id is given)',
    wrappable: true,
    mutating: false,
    response: api.SecretRead,
    params: SecretNameParam,
    query: ReadQuery,
    sensitive: ['value', 'binary'],
    access: ({ params }) => ({ path: secretPath(params.name), capability: 'read' }),
    async handle({ params, query }, { secrets }) {
      const got = await secrets.get({
        secretId: params.name,
        versionId: query.versionId,
        versionStage: query.stage,
      });
      const warning = expiryWarning(got.name, got.expiry);
      return {
        body: {
          name: got.name,
          arn: got.arn,
          versionId: got.versionId,
          versionStages: got.versionStages,
          createdAt: iso(got.createdAt),
          ...readValue(got.value),
          ...warning.fields,
        },
        ...(warning.headers === undefined ? {} : { headers: warning.headers }),
      };
    },
  }),
  defineRoute({
    operation: 'secret.write',
    method: 'PUT',
    path: '/v1/secret/data/{name+}',
    summary: 'Write a new version (creates the secret if absent); supports check-and-set',
    mutating: true,
    response: api.SecretWritten,
    params: SecretNameParam,
    body: PutBody,
    sensitive: ['value', 'binary'],
    // Upsert, as in Vault: writing an existing secret needs `update`, creating one needs `create`. A caller with
    // only `create` can never overwrite: its write is create-only.
    resource: ({ params }) => secretPath(params.name),
    async handle({ params, body }, ctx) {
      const value = toSecretValue(body);
      if (value === undefined) throw new ValidationError('a value or binary is required');
      const path = secretPath(params.name);
      const request = {
        secretId: params.name,
        value,
        clientRequestToken: body.clientRequestToken,
        versionStages: body.stages,
        ifVersionId: body.cas?.ifVersionId,
        ifAbsent: body.cas?.ifAbsent,
        // A retry is told apart by value only for a reader; see PutSecretValueInput.mayRead.
        mayRead: await ctx.isAllowed({ path, capability: 'read' }),
      };
      const canUpdate = await ctx.authorize({ path, capability: 'update' }).then(
        () => true,
        (err: unknown) => {
          if (err instanceof PermissionDeniedError) return false;
          throw err;
        },
      );
      if (!canUpdate) {
        await ctx.authorize({ path, capability: 'create' });
        return { body: await ctx.secrets.put({ ...request, ifAbsent: true, createIfMissing: true }) };
      }
      try {
        return { body: await ctx.secrets.put(request) };
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        await ctx.authorize({ path, capability: 'create' });
        return { body: await ctx.secrets.put({ ...request, createIfMissing: true }) };
      }
    },
  }),
  defineRoute({
    operation: 'secret.describe',
    method: 'GET',
    path: '/v1/secret/metadata/{name+}',
    summary: 'Describe a secret: metadata, tags and the version-to-stage map',
    mutating: false,
    response: api.SecretDescribed,
    params: SecretNameParam,
    access: ({ params }) => ({ path: secretPath(params.name), capability: 'read' }),
    async handle({ params }, { secrets }) {
      const d = await secrets.describe({ secretId: params.name });
      return {
        body: {
          ...d,
          expiration: expirationView(d.expiration),
          createdAt: iso(d.createdAt),
          updatedAt: iso(d.updatedAt),
          deletedAt: iso(d.deletedAt),
          deletionDate: iso(d.deletionDate),
        },
      };
    },
  }),
  defineRoute({
    operation: 'secret.update',
    method: 'PATCH',
    path: '/v1/secret/metadata/{name+}',
    summary: 'Update description, custom metadata and tags',
    mutating: true,
    response: api.SecretUpdated,
    params: SecretNameParam,
    body: UpdateBody,
    access: ({ params }) => ({ path: secretPath(params.name), capability: 'update' }),
    references: async ({ body }) => expirationReferences(body.expiration),
    async handle({ params, body }, ctx) {
      const { kmsKeyId, expiration, ...rest } = body;
      const metadata = {
        ...rest,
        ...(expiration === undefined ? {} : { expiration: expiration === null ? null : toExpirationInput(expiration) }),
      };
      if (kmsKeyId !== undefined) {
        const key = kmsKeyId === null ? undefined : await authorizeKey(ctx, kmsKeyId);
        const previous = (await ctx.secrets.describe({ secretId: params.name })).kmsKeyId;
        await ctx.secrets.updateSecret({
          secretId: params.name,
          kmsKeyId: key?.arn ?? null,
          reencrypt: await mayUseKey(ctx, previous),
        });
      }
      if (kmsKeyId === undefined || Object.values(metadata).some((v) => v !== undefined)) {
        await ctx.secrets.update({ secretId: params.name, ...metadata });
      }
      return { body: { name: params.name, updated: true } };
    },
  }),
  defineRoute({
    operation: 'secret.delete',
    method: 'DELETE',
    path: '/v1/secret/metadata/{name+}',
    summary: 'Schedule deletion after a 7–30 day recovery window, or delete at once with force=true',
    mutating: true,
    response: api.SecretDeleted,
    params: SecretNameParam,
    query: DeleteQuery,
    access: ({ params }) => ({ path: secretPath(params.name), capability: 'delete' }),
    async handle({ params, query }, { secrets }) {
      const deleted = await secrets.delete({
        secretId: params.name,
        recoveryWindowDays: query.recoveryWindowDays,
        forceDeleteWithoutRecovery: query.force,
      });
      return { body: { ...deleted, deletionDate: iso(deleted.deletionDate) } };
    },
  }),
  defineRoute({
    operation: 'secret.restore',
    method: 'POST',
    path: '/v1/secret/restore/{name+}',
    summary: 'Cancel a scheduled deletion',
    mutating: true,
    response: api.SecretRestored,
    params: SecretNameParam,
    access: ({ params }) => ({ path: secretPath(params.name), capability: 'update' }),
    async handle({ params }, { secrets }) {
      return { body: await secrets.restore({ secretId: params.name }) };
    },
  }),
  defineRoute({
    operation: 'secret.versions',
    method: 'GET',
    path: '/v1/secret/versions/{name+}',
    summary: 'List versions, newest first',
    mutating: false,
    response: api.SecretVersions,
    params: SecretNameParam,
    query: VersionsQuery,
    access: ({ params }) => ({ path: secretPath(params.name), capability: 'read' }),
    async handle({ params, query }, { secrets }) {
      const page = await secrets.listVersions({ secretId: params.name, ...query });
      return {
        body: {
          versions: page.versions.map((v) => ({ ...v, createdAt: iso(v.createdAt) })),
          nextCursor: page.nextCursor,
        },
      };
    },
  }),
  defineRoute({
    operation: 'secret.stage',
    method: 'POST',
    path: '/v1/secret/stages/{name+}',
    summary: 'Move or remove a staging label (UpdateSecretVersionStage rules)',
    mutating: true,
    response: api.SecretStaged,
    params: SecretNameParam,
    body: StageBody,
    access: ({ params }) => ({ path: secretPath(params.name), capability: 'update' }),
    async handle({ params, body }, { secrets }) {
      await secrets.updateVersionStage({ secretId: params.name, versionStage: body.stage, ...body });
      const d = await secrets.describe({ secretId: params.name });
      return { body: { name: d.name, arn: d.arn, versionIdsToStages: d.versionIdsToStages } };
    },
  }),
  ...(['/v1/secret/list', '/v1/secret/list/{prefix+}'] as const).map((path) =>
    defineRoute({
      operation: 'secret.list',
      method: 'GET',
      path,
      summary: 'List secrets under a prefix: direct children (folders end in "/") or, with recursive=true, all',
      mutating: false,
      response: api.SecretList,
      params: PrefixParam,
      query: ListQuery,
      access: ({ params }) => ({ path: listPath(params.prefix ?? ''), capability: 'list' }),
      async handle({ params, query }, { secrets }) {
        const prefix = params.prefix ?? '';
        const page = await secrets.list({ prefix, ...query });
        return { body: page };
      },
    }),
  ),
];
