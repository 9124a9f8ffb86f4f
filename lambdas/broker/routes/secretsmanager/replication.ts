import type { Capability } from '../../../core/policy/policy-types.ts';
import { defineRoute, type RouteContext, type RouteDef } from '../../route.ts';
import { secretPath } from '../secrets.ts';
import { customerKeyFor } from './kms-keys.ts';
import {
  RemoveRegionsFromReplicationRequest,
  ReplicateSecretToRegionsRequest,
  replicationStatusList,
  StopReplicationToReplicaRequest,
} from './replication-shapes.ts';
import { awsError } from './shapes.ts';

/** The route-building parts `routes.ts` shares with this file (passed in: the two files must not import each other). */
export interface ReplicationRouteParts {
  readonly op: (name: string) => {
    readonly operation: string;
    readonly target: string;
    readonly method: 'POST';
    readonly path: string;
    readonly protocol: 'aws-json';
  };
  readonly authorizeSecret: (
    ctx: RouteContext,
    secretId: string,
    capability: Exclude<Capability, 'deny'>,
  ) => Promise<{ id: string; name: string }>;
}

/**
 * The replicas a request asks for of the secret `name`, authorised: a replica is a new secret in each replica region,
 * so the caller needs `create` on the name there (Coffer's addition to AWS's one permission, so that a policy's
 * `regions` condition cannot be stepped around by replicating); and each replica key is resolved to its ARN with the
 * caller authorised to use it, as for the primary's own `KmsKeyId` (`kmsKeyFor`). A replica without a key, or naming
 * the AWS managed key, uses the default.
 */
export async function requestedReplicas(
  ctx: RouteContext,
  name: string,
  replicas: readonly { Region: string; KmsKeyId?: string | undefined }[],
): Promise<{ region: string; kmsKeyId?: string }[]> {
  for (const { Region } of replicas) {
    await ctx.authorize({ path: secretPath(name), capability: 'create', region: Region });
  }
  const out: { region: string; kmsKeyId?: string }[] = [];
  for (const replica of replicas) {
    const key = await customerKeyFor(ctx, replica.KmsKeyId);
    // The replica region's broker opens what the primary's seals: on AWS only a multi-region key reaches it.
    if (key !== undefined && !key.everyRegion) {
      throw awsError(
        'InvalidParameterException',
        `The operation failed because of an invalid KMS key: ${key.arn} is not a multi-region key; a replica's KmsKeyId must name a multi-region key replicated to ${replica.Region}.`,
      );
    }
    out.push({ region: replica.Region, ...(key === undefined ? {} : { kmsKeyId: key.arn }) });
  }
  return out;
}

const auditPath = ({ body }: { body: { SecretId: string } }) => secretPath(body.SecretId);

/**
 * ReplicateSecretToRegions, RemoveRegionsFromReplication and StopReplicationToReplica. Each needs `update` on the
 * secret in the request's region (the primary's for the first two, the replica's for the third), as each changes
 * where and whether the secret is written.
 */
export function replicationRoutes({ op, authorizeSecret }: ReplicationRouteParts): RouteDef[] {
  return [
    defineRoute({
      ...op('ReplicateSecretToRegions'),
      summary: 'Replicate a secret to more regions (AWS Secrets Manager ReplicateSecretToRegions)',
      mutating: true,
      body: ReplicateSecretToRegionsRequest,
      resource: auditPath,
      async handle({ body }, ctx) {
        const { id, name } = await authorizeSecret(ctx, body.SecretId, 'update');
        const answer = await ctx.deps.replication.addReplicas({
          region: ctx.region,
          secretId: id,
          replicas: await requestedReplicas(ctx, name, body.AddReplicaRegions),
          forceOverwrite: body.ForceOverwriteReplicaSecret,
        });
        return { body: { ARN: answer.arn, ReplicationStatus: replicationStatusList(answer.replication) } };
      },
    }),
    defineRoute({
      ...op('RemoveRegionsFromReplication'),
      summary: 'Stop replicating a secret to regions and delete its replicas there (AWS RemoveRegionsFromReplication)',
      mutating: true,
      body: RemoveRegionsFromReplicationRequest,
      resource: auditPath,
      async handle({ body }, ctx) {
        const { id } = await authorizeSecret(ctx, body.SecretId, 'update');
        const answer = await ctx.deps.replication.removeReplicas({
          region: ctx.region,
          secretId: id,
          regions: body.RemoveReplicaRegions,
        });
        return { body: { ARN: answer.arn, ReplicationStatus: replicationStatusList(answer.replication) } };
      },
    }),
    defineRoute({
      ...op('StopReplicationToReplica'),
      summary:
        "Promote a replica to a standalone secret, called in the replica's region (AWS StopReplicationToReplica)",
      mutating: true,
      body: StopReplicationToReplicaRequest,
      resource: auditPath,
      async handle({ body }, ctx) {
        const { id } = await authorizeSecret(ctx, body.SecretId, 'update');
        const { arn } = await ctx.deps.replication.stopReplication({ region: ctx.region, secretId: id });
        return { body: { ARN: arn } };
      },
    }),
  ];
}
