import * as z from 'zod';
import * as api from '../../api/index.ts';
import { requireSystem } from '../features.ts';
import { defineRoute, type RouteDef } from '../route.ts';
import { secretPath } from './secrets.ts';
import { SecretNameParam } from './wire.ts';

/** A region name; the core checks AWS's form and the regions the node serves. */
const Region = z.string().min(1).max(128);

const ReplicateBody = z
  .object({
    regions: z
      .array(z.object({ region: Region, kmsKeyId: z.string().min(1).max(2048).optional() }).strict())
      .min(1)
      .max(50),
    forceOverwrite: z.boolean().optional().describe('Replace a secret of the same name in a replica region'),
  })
  .strict();

const RegionsBody = z.object({ regions: z.array(Region).min(1).max(50) }).strict();

/**
 * The native API of replication, acting in the request's region (`X-Coffer-Region`, `coffer --region`): replicate a
 * primary to more regions, stop replicating it to some (deleting those replicas), promote a replica to a standalone
 * secret; and, with `COFFER_FAULT_INJECTION=1`, root's switch that marks replica regions down.
 */
export const replicationRoutes: RouteDef[] = [
  defineRoute({
    operation: 'secret.replicate',
    method: 'POST',
    path: '/v1/secret/replicate/{name+}',
    summary: 'Replicate a secret of the request region to more regions (asynchronous: replicas start InProgress)',
    mutating: true,
    response: api.SecretReplication,
    params: SecretNameParam,
    body: ReplicateBody,
    access: ({ params }) => ({ path: secretPath(params.name), capability: 'update' }),
    async handle({ params, body }, ctx) {
      // A replica is a new secret in its region: the caller must be allowed to create it there.
      for (const { region } of body.regions) {
        await ctx.authorize({ path: secretPath(params.name), capability: 'create', region });
      }
      const { arn, replication } = await ctx.deps.replication.addReplicas({
        region: ctx.region,
        secretId: params.name,
        replicas: body.regions,
        forceOverwrite: body.forceOverwrite,
      });
      return { body: { arn, replication } };
    },
  }),
  defineRoute({
    operation: 'secret.unreplicate',
    method: 'POST',
    path: '/v1/secret/unreplicate/{name+}',
    summary: 'Stop replicating a secret to regions and delete its replicas there',
    mutating: true,
    response: api.SecretReplication,
    params: SecretNameParam,
    body: RegionsBody,
    access: ({ params }) => ({ path: secretPath(params.name), capability: 'update' }),
    async handle({ params, body }, ctx) {
      const { arn, replication } = await ctx.deps.replication.removeReplicas({
        region: ctx.region,
        secretId: params.name,
        regions: body.regions,
      });
      return { body: { arn, replication } };
    },
  }),
  defineRoute({
    operation: 'secret.promote',
    method: 'POST',
    path: '/v1/secret/promote/{name+}',
    summary: 'Promote a replica of the request region to a standalone secret (its primary stops replicating to it)',
    mutating: true,
    response: api.SecretPromoted,
    params: SecretNameParam,
    access: ({ params }) => ({ path: secretPath(params.name), capability: 'update' }),
    async handle({ params }, ctx) {
      return { body: await ctx.deps.replication.stopReplication({ region: ctx.region, secretId: params.name }) };
    },
  }),
  defineRoute({
    operation: 'sys.replication.faults',
    method: 'POST',
    path: '/v1/sys/replication/faults',
    summary: 'Mark a replica region down or up, to test replication faults (COFFER_FAULT_INJECTION=1 only)',
    mutating: true,
    feature: 'replicationFaults',
    response: api.ReplicationFaults,
    body: z.object({ region: Region, down: z.boolean() }).strict(),
    access: () => ({ path: 'sys/replication/faults', capability: 'sudo' }),
    async handle({ body }, { deps }) {
      return { body: requireSystem(deps, 'replicationFaults')(body) };
    },
  }),
];
