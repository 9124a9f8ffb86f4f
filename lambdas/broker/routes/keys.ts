import * as z from 'zod';
import * as api from '../../api/index.ts';
import { parseKmsKeyId } from '../../core/crypto/kms-key-id.ts';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import type { CustomerKey } from '../../core/ports/key-ring.ts';
import { requireService, requireSystem } from '../features.ts';
import { defineRoute, type RouteDef } from '../route.ts';
import { keyPath } from './key-access.ts';
import { iso } from './wire.ts';

/** An alias as `coffer keyring key create` takes it: with or without `alias/` (the core checks the name's rules). */
const AliasInput = z
  .string()
  .max(256)
  .regex(/^(alias\/)?[A-Za-z0-9/_-]{1,250}$/, 'an alias is alias/<name>: letters, digits, /, _ and -');

const stripAlias = (alias: string): string => (alias.startsWith('alias/') ? alias.slice('alias/'.length) : alias);

const KeyParam = z.object({ name: z.string().min(1).max(256) }).strict();

function view(key: CustomerKey): api.CustomerKeyView {
  return {
    arn: key.arn,
    keyId: key.keyId,
    aliases: [...key.aliases],
    ...(key.createdAt === undefined ? {} : { createdAt: iso(key.createdAt) }),
  };
}

/**
 * Customer keys secrets may name (`kmsKeyId`, `KmsKeyId`): the local keyring's named keys are created and listed
 * here; on AWS they are KMS keys, created in KMS and only looked up here. Using a key for a secret needs `read` on
 * `sys/keyring/keys/<alias>` (see `key-access.ts`).
 */
export const keyRoutes: RouteDef[] = [
  defineRoute({
    operation: 'keyring.key.create',
    method: 'POST',
    path: '/v1/sys/keyring/keys',
    summary: 'Create a named key in the keyring, sealed under the root key, for secrets to name as kmsKeyId',
    feature: ['keys', 'keyCreation'],
    mutating: true,
    response: api.CustomerKeyView,
    statuses: [201],
    body: z.object({ alias: AliasInput }).strict(),
    access: ({ body }) => ({ path: keyPath(stripAlias(body.alias)), capability: 'sudo' }),
    async handle({ body }, { deps }) {
      return { status: 201, body: view(await requireSystem(deps, 'keyCreation')(body.alias)) };
    },
  }),
  defineRoute({
    operation: 'keyring.key.list',
    method: 'GET',
    path: '/v1/sys/keyring/keys',
    summary: "The keyring's named keys (on AWS, keys live in KMS and the list is empty)",
    feature: 'keys',
    mutating: false,
    response: api.CustomerKeyList,
    access: () => ({ path: 'sys/keyring/keys', capability: 'list' }),
    async handle(_input, { deps }) {
      return { body: { keys: (await requireService(deps, 'keys').list()).map(view) } };
    },
  }),
  defineRoute({
    operation: 'keyring.key.read',
    method: 'GET',
    path: '/v1/sys/keyring/keys/{name+}',
    summary: 'Describe a customer key by alias name or key id',
    feature: 'keys',
    mutating: false,
    response: api.CustomerKeyView,
    params: KeyParam,
    access: ({ params }) => ({ path: keyPath(stripAlias(params.name)), capability: 'read' }),
    async handle({ params }, { deps }) {
      const keys = requireService(deps, 'keys');
      const name = stripAlias(params.name);
      const asAlias = `alias/${name}`;
      if (parseKmsKeyId(asAlias) !== undefined) {
        try {
          return { body: view(await keys.resolve(asAlias)) };
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err;
        }
      }
      if (parseKmsKeyId(name)?.kind !== 'key') throw new ValidationError('Invalid keyId');
      return { body: view(await keys.resolve(name)) };
    },
  }),
];
