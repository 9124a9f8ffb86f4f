/**
 * Every partition of the `Store`, in one registry: `docs/data-model.md` is generated from it (`npm run data-model`),
 * and a unit test fails when a partition constant found in `lambdas/` is missing here.
 *
 * It lives in `entrypoints/` because the partitions are declared by their owners across the layers (the core's
 * services, the engines, the local CA key store, the local composition root) and only a composition root may import
 * all of them; the core must not import an engine or an adapter. The keys are imported, never re-typed, so the
 * document cannot name a partition the code does not write.
 */
import { RATE_LIMIT_COUNTER_PREFIXES } from '../adapters/aws/dynamodb-rate-limits/dynamodb-rate-limit-counters.ts';
import { CA_KEY_PARTITION } from '../adapters/local/pki-keys/sealed-ca-key-store.ts';
import { AUDIT_DEVICE_PARTITION } from '../core/audit/devices/audit-device-service.ts';
import { OUTBOX_PARTITION_PREFIX } from '../core/audit/outbox/audit-outbox.ts';
import { RELAY_PARTITION } from '../core/audit/outbox/outbox-relay.ts';
import { APPROLE_PARTITIONS } from '../core/auth/approle/approle-types.ts';
import { IAM_PRINCIPAL_PARTITION } from '../core/auth/iam/iam-principal-service.ts';
import { AUTH_MOUNT_PARTITIONS } from '../core/auth/methods/auth-mount-service.ts';
import { ACCESS_KEY_PARTITION } from '../core/auth/sigv4/access-key-types.ts';
import { TOKEN_PARTITIONS } from '../core/auth/token/token-types.ts';
import { COMPLIANCE_PARTITION, LATEST_REPORT_SK } from '../core/compliance/stored-report.ts';
import { CLAIM_PARTITION } from '../core/coordination/claims.ts';
import { DUE_PK, FAILED_PK, LEASE_PK, PREFIX_JOB_PK, QUOTA_PK } from '../core/leases/lease-types.ts';
import { POLICY_PARTITION } from '../core/policy/policy-service.ts';
import { RATE_LIMIT_QUOTA_PARTITION } from '../core/quota/quota-types.ts';
import {
  REVOCATION_PK,
  ROTATION_CONFIG_PK,
  ROTATION_GROUP_PK,
  ROTATION_LOCK_PK,
  ROTATION_PK,
} from '../core/rotation/rotation-records.ts';
import { EXPIRY_INDEX_PARTITION, EXPIRY_STATE_PARTITION } from '../core/secrets/expiration/expiry-index.ts';
import { SECRET_REGIONS_PARTITION } from '../core/secrets/replication/replica-marking-store.ts';
import { REPLICATION_PARTITION } from '../core/secrets/replication/replication-index.ts';
import { CREATION_ORDER_PARTITION } from '../core/secrets/secret-creation-order.ts';
import { DELETION_INDEX_PARTITION } from '../core/secrets/secret-deletion-index.ts';
import { SECRETS_PARTITION, versionPartition } from '../core/secrets/secret-types.ts';
import { WRAPPING_PARTITION } from '../core/wrapping/response-wrapping.ts';
import { AWS_ROLE_PK } from '../engines/aws/aws-engine.ts';
import { DB_CONFIG_PK, DB_ROLE_PK } from '../engines/database/database-types.ts';
import { OAUTH_CONFIG_PK, OAUTH_ROLE_PK, OAUTH_TOKEN_PK } from '../engines/oauth/oauth-records.ts';
import { PK_CERT_EXPIRY } from '../engines/pki/certificate-expiry.ts';
import { PK_CA, PK_CERT, PK_CRL, PK_REVOKED, PK_ROLE } from '../engines/pki/pki-records.ts';
import { API_KEY_PARTITION } from '../engines/rotation/api-key/api-key-registry.ts';
import { SSH_CA_PK, SSH_CERT_PK, SSH_OTP_PK, SSH_REVOKED_PK, SSH_ROLE_PK } from '../engines/ssh/ssh-records.ts';
import { INIT_PK } from './local/compose.ts';

export interface Partition {
  /** The partition key, or its prefix when {@link Partition.prefix} is set (the rest of the key follows it). */
  readonly pk: string;
  /** What follows the prefix in the key, e.g. `<secret ARN>`; only for prefixed partitions. */
  readonly prefix?: string;
  /** The module that reads and writes the partition (path under `lambdas/`). */
  readonly owner: string;
  /** What an item's `data` holds. */
  readonly holds: string;
  /** What the sort key is. */
  readonly sortKey: string;
  /** How the owner reads the partition. */
  readonly access: string;
  /** When items go away on their own; absent when only a write deletes them. */
  readonly expires?: string;
}

const SECRET_VERSIONS_PREFIX = versionPartition('');

export const PARTITIONS: readonly Partition[] = [
  {
    pk: SECRETS_PARTITION,
    owner: 'core/secrets/secret-service.ts',
    holds: '`SecretRecord`: metadata, staging labels, rotation, deletion date',
    sortKey: 'secret name',
    access: '`GetItem` by name; `Query` (optionally `begins_with(sk, prefix)`) to list and search',
  },
  {
    pk: SECRET_VERSIONS_PREFIX,
    prefix: '<secret ARN>',
    owner: 'core/secrets/secret-service.ts',
    holds: '`VersionRecord`: ciphertext and the data key wrapped by the key provider',
    sortKey: 'version id',
    access: '`GetItem` by version id; `Query` for the history of one secret',
  },
  {
    pk: CREATION_ORDER_PARTITION,
    owner: 'core/secrets/secret-creation-order.ts',
    holds: '`{name, createdAt}` (two entries per secret), or `{at}` for the `complete` marker',
    sortKey:
      '`a/<13-digit created ms>/<name>`, `d/<13-digit 9999999999999 − created ms>/<mirrored name>~` (newest first), ' +
      'or `complete`',
    access: 'ListSecrets: `Query begins_with(sk, a/ or d/)` one page at a time; purged with the secret',
  },
  {
    pk: DELETION_INDEX_PARTITION,
    owner: 'core/secrets/secret-deletion-index.ts',
    holds:
      '`{name, deletionDate}` of every secret scheduled for deletion (replicas included), or `{at}` for the `complete` marker',
    sortKey: '`<13-digit deletion ms>/<name>`, or `complete`',
    access:
      'the purge: `Query` from the start, one page at a time, until an entry is not yet due; written with the record ' +
      'that schedules, restores or purges',
  },
  {
    pk: `${SECRETS_PARTITION}@`,
    prefix: '<region>',
    owner: 'core/secrets/secret-service.ts',
    holds: "`SecretRecord` of a region other than the node's home region (secret-partitions.ts); replicas included",
    sortKey: 'secret name',
    access: 'as `secrets`, for that region (`RegionalSecrets.in(region)`)',
  },
  {
    pk: `${CREATION_ORDER_PARTITION}@`,
    prefix: '<region>',
    owner: 'core/secrets/secret-creation-order.ts',
    holds: 'the creation-order index of a region other than the home region',
    sortKey: 'as `secrets-by-creation`',
    access: 'as `secrets-by-creation`, for that region',
  },
  {
    pk: `${DELETION_INDEX_PARTITION}@`,
    prefix: '<region>',
    owner: 'core/secrets/secret-deletion-index.ts',
    holds: 'the deletion-date index of a region other than the home region',
    sortKey: 'as `secrets-by-deletion`',
    access: 'as `secrets-by-deletion`, for that region',
  },
  {
    pk: EXPIRY_INDEX_PARTITION,
    owner: 'core/secrets/expiration/expiry-index.ts',
    holds: '`{subject, arn, event, due, claimedAt?}`: one expiry event of a secret still to publish',
    sortKey: '`<13-digit due ms>/<name>#<event>` (`expiring:<lead ms>`, `expired:<reason>`)',
    access:
      'the expiry sweep: `Query` from the start until an entry is not yet due; each entry claimed, published and ' +
      'deleted by conditional writes; written with the record that sets or clears a policy, and by the read that ' +
      'spends a read budget or observes a condition',
  },
  {
    pk: EXPIRY_STATE_PARTITION,
    owner: 'core/secrets/expiration/expiration-guard.ts',
    holds:
      '`reads/<arn>`: `{reads, setAt}`, the read count under `maxReads`; `watch/<name>`: `{arn, setAt, triggeredAt?}`, ' +
      'a condition to observe (another secret rotating, a lease ending)',
    sortKey: '`reads/<secret ARN>` or `watch/<secret name>`',
    access:
      '`GetItem` and a conditional put per read of a secret with a read budget; `Query` of `watch/` by the expiry sweep',
  },
  ...[EXPIRY_INDEX_PARTITION, EXPIRY_STATE_PARTITION].map(
    (pk): Partition => ({
      pk: `${pk}@`,
      prefix: '<region>',
      owner: 'core/secrets/expiration/expiry-index.ts',
      holds: `the \`${pk}\` partition of a region other than the home region`,
      sortKey: `as \`${pk}\``,
      access: `as \`${pk}\`, for that region`,
    }),
  ),
  {
    pk: REPLICATION_PARTITION,
    owner: 'core/secrets/replication/replication-service.ts',
    holds: '`{region, name}` of every primary with replicas, written with its first replica, removed with its last',
    sortKey: '`<region>/<name>`',
    access: "`Query` by the replicator's `reconcile` (start-up, periodic retry, the scheduled sweep)",
  },
  {
    pk: SECRET_REGIONS_PARTITION,
    owner: 'core/secrets/regional-secrets.ts',
    holds: '`{region}` of every region besides the home region that holds or held a secret',
    sortKey: 'region',
    access: "`Query` by the sweeps that visit every region (purge, root-key re-wrap); put with a region's first secret",
  },
  {
    pk: POLICY_PARTITION,
    owner: 'core/policy/policy-service.ts',
    holds: 'policy document (`root` is built in, never stored)',
    sortKey: 'policy name',
    access: '`GetItem` by name; `Query` to list',
  },
  {
    pk: TOKEN_PARTITIONS.tokens,
    owner: 'core/auth/token/token-service.ts',
    holds: '`TokenRecord` (neither the token nor its hash)',
    sortKey: 'hex SHA-256 of the token',
    access: '`GetItem` on every authenticated request',
    expires: 'at the token expiry',
  },
  {
    pk: WRAPPING_PARTITION,
    owner: 'core/wrapping/response-wrapping.ts',
    holds: 'a response-wrapped answer, sealed under its own data key (never the wrapping token)',
    sortKey: 'hex SHA-256 of the wrapping token',
    access: '`GetItem` then a conditional `DeleteItem` to unwrap once',
    expires: 'at the wrap TTL',
  },
  {
    pk: TOKEN_PARTITIONS.accessors,
    owner: 'core/auth/token/token-service.ts',
    holds: 'accessor item (token hash, parent)',
    sortKey: 'accessor',
    access: '`GetItem` to look up or revoke by accessor; condition-checked when a child is created',
    expires: 'at the token expiry',
  },
  {
    pk: TOKEN_PARTITIONS.childrenPrefix,
    prefix: '<parent accessor>',
    owner: 'core/auth/token/token-service.ts',
    holds: '`{}`: an edge parent → child',
    sortKey: 'child accessor',
    access: '`Query` recursively to revoke a token tree',
    expires: 'with the child',
  },
  {
    pk: AUTH_MOUNT_PARTITIONS.mounts,
    owner: 'core/auth/methods/auth-mount-service.ts',
    holds: '`AuthMountRecord`: method type, mount id (`<path>.<random>`), description, config',
    sortKey: 'mount path',
    access: '`GetItem` on every login and role operation; `Query` to list',
  },
  {
    pk: AUTH_MOUNT_PARTITIONS.rolesPrefix,
    prefix: '<mount id>',
    owner: 'core/auth/methods/auth-mount-service.ts',
    holds: "`{role, ceilings}`: the method's role and its writer's authority (every token of the role carries it)",
    sortKey: 'role name',
    access: '`GetItem` on login and role reads; `Query` to list roles',
  },
  {
    pk: APPROLE_PARTITIONS.roleIds,
    owner: 'core/auth/approle/approle-method.ts',
    holds: '`{role}`: the role a role id names',
    sortKey: '`<mount id>#<role id>`',
    access: '`GetItem` on every AppRole login; written with the role (condition: absent, so role ids are unique)',
  },
  {
    pk: APPROLE_PARTITIONS.secretIdsPrefix,
    prefix: '<mount id>#<role name>#<role uid>',
    owner: 'core/auth/approle/approle-method.ts',
    holds: '`SecretIdRecord` (never the secret id) under `h#<sha256>`, and `{hash}` under `a#<accessor>`',
    sortKey: '`h#<hex SHA-256 of the secret id>` or `a#<secret id accessor>`',
    access: '`GetItem` on login; the use count is spent by a revision-conditioned write (no double spend)',
    expires: 'at the secret id expiry',
  },
  {
    pk: RATE_LIMIT_QUOTA_PARTITION,
    owner: 'core/quota/quota-service.ts',
    holds: '`RateLimitQuota`: path prefix, rate, interval, burst, block interval, per (global, source, principal)',
    sortKey: 'quota name',
    access: '`Query` the whole partition to find the quota of a request (cached 5 s per instance); `GetItem` by name',
  },
  {
    pk: RATE_LIMIT_COUNTER_PREFIXES.bucket,
    prefix: '<HMAC of quota, its update time and the source or principal>',
    owner: 'adapters/aws/dynamodb-rate-limits/dynamodb-rate-limit-counters.ts',
    holds:
      "not a store item: `tat` (N), the token bucket's theoretical arrival time in epoch ms (AWS only; locally the " +
      'counters are in memory)',
    sortKey: '`bucket`',
    access: 'conditional `UpdateItem` (`SET tat = tat + :emission IF …`) per request; `GetItem` when that fails',
    expires: 'when the bucket is full again (TTL `expiresAt`)',
  },
  {
    pk: RATE_LIMIT_COUNTER_PREFIXES.failures,
    prefix: '<HMAC of mount id, login subject and source address>',
    owner: 'adapters/aws/dynamodb-rate-limits/dynamodb-rate-limit-counters.ts',
    holds: 'not a store item: `count`, `resetAt`, `lockedUntil` (N, epoch ms) of failed logins (AWS only)',
    sortKey: '`failures`',
    access: '`GetItem` before each login; conditional `UpdateItem` per failure; `DeleteItem` on success',
    expires: 'when the count lapses or the lock ends (TTL `expiresAt`)',
  },
  {
    pk: IAM_PRINCIPAL_PARTITION,
    owner: 'core/auth/iam/iam-principal-service.ts',
    holds: '`{policies, ceilings?}`',
    sortKey: 'exact IAM ARN or `…*` prefix pattern',
    access: '`Query` the whole partition to resolve a caller (cached 5 s per instance)',
  },
  {
    pk: ACCESS_KEY_PARTITION,
    owner: 'core/auth/sigv4/access-key-service.ts',
    holds: 'access key record (the secret key envelope-sealed)',
    sortKey: 'access key id',
    access: '`GetItem` to verify a SigV4 request; `Query` to list and to re-wrap',
  },
  {
    pk: LEASE_PK,
    owner: 'core/leases/lease-service.ts',
    holds: '`LeaseRecord`',
    sortKey: 'lease id',
    access: '`GetItem` to renew or revoke; revocation deletes it',
  },
  {
    pk: DUE_PK,
    owner: 'core/leases/lease-service.ts',
    holds: '`{}`',
    sortKey: '`<15-digit due ms>/<lease id>`',
    access: 'the sweeper: `Query sk <= <now padded>`',
  },
  {
    pk: FAILED_PK,
    owner: 'core/leases/lease-service.ts',
    holds: '`{leaseId}` of a lease whose revocation failed (its attempts and last error are on the lease)',
    sortKey: 'lease id',
    access: '`Query` to list them',
  },
  {
    pk: QUOTA_PK,
    owner: 'core/leases/lease-service.ts',
    holds: '`{count}` of live leases',
    sortKey: '`role:<role path>` or `principal:<principal id>`',
    access: '`GetItem` per scope before issuing; written with each lease issued or ended',
  },
  {
    pk: PREFIX_JOB_PK,
    owner: 'core/leases/lease-service.ts',
    holds: '`{prefix, requestedAt}` of a revoke-by-prefix job',
    sortKey: 'prefix',
    access: 'put when the job starts, deleted when it finishes',
  },
  {
    pk: CLAIM_PARTITION,
    owner: 'core/coordination/claims.ts',
    holds: '`{holder, expiresAt, claimedAt}`: which node process runs a job (a sweep pass, a rotation) until when',
    sortKey: 'job name (`sweep/leases`, `rotation/<rotation id>`, …)',
    access: '`GetItem`, then a put conditional on absence or the revision read; deleted on release',
  },
  {
    pk: ROTATION_CONFIG_PK,
    owner: 'core/rotation/rotation-service.ts',
    holds: '`RotationConfigRecord`: type, settings (names other secrets, never a value), rules, grant',
    sortKey: 'secret name',
    access: '`GetItem` by secret; `Query` to list and schedule',
  },
  {
    pk: ROTATION_LOCK_PK,
    owner: 'core/rotation/rotation-service.ts',
    holds: '`{name, rotationId, acquiredAt}`: the rotation holding the lock',
    sortKey: 'secret name',
    access: 'create-only put, in the transaction that starts the rotation; deleted when it ends',
  },
  {
    pk: ROTATION_PK,
    owner: 'core/rotation/rotation-service.ts',
    holds: 'a rotation: history and in-flight state',
    sortKey: 'rotation id',
    access: '`GetItem` at every step; `Query` for history',
  },
  {
    pk: ROTATION_GROUP_PK,
    owner: 'core/rotation/rotation-service.ts',
    holds: 'a group of secrets rotated together',
    sortKey: 'group name',
    access: '`GetItem` by name; `Query` to list',
  },
  {
    pk: REVOCATION_PK,
    owner: 'core/rotation/rotation-service.ts',
    holds: 'the revocation of a superseded credential (a non-secret handle)',
    sortKey: '`<zero-padded due time>/<id>`',
    access: '`Query sk <= <now padded>` for what is due',
  },
  {
    pk: DB_CONFIG_PK,
    owner: 'engines/database/database-engine.ts',
    holds: 'connection config (the admin password sealed, or the grant of an admin secret)',
    sortKey: 'config name',
    access: '`GetItem` by name; `Query` to list',
  },
  {
    pk: DB_ROLE_PK,
    owner: 'engines/database/database-engine.ts',
    holds: 'role: creation and revocation statements, TTLs',
    sortKey: 'role name',
    access: '`GetItem` by name; `Query` to list',
  },
  {
    pk: AWS_ROLE_PK,
    owner: 'engines/aws/aws-engine.ts',
    holds: 'role definition',
    sortKey: 'role name',
    access: '`GetItem` by name',
  },
  {
    pk: API_KEY_PARTITION,
    owner: 'engines/rotation/api-key/api-key-registry.ts',
    holds: 'a Coffer-managed API key (hash) and the secret that holds it',
    sortKey: 'key id, or rotation-token prefix + key id',
    access: '`GetItem` to validate a presented key; `Query` to list',
  },
  {
    pk: PK_CA,
    owner: 'engines/pki/ca-service.ts',
    holds: 'CA certificate (PEM) and the id of its key',
    sortKey: '`root` or `intermediate`',
    access: '`GetItem`; published unauthenticated at `/v1/pki/ca`',
  },
  {
    pk: CA_KEY_PARTITION,
    owner: 'adapters/local/pki-keys/sealed-ca-key-store.ts',
    holds: 'a CA private key sealed under the key provider (locally; on AWS the key stays in KMS)',
    sortKey: 'key id',
    access: '`GetItem` to sign',
  },
  {
    pk: PK_ROLE,
    owner: 'engines/pki/role-service.ts',
    holds: 'PKI role',
    sortKey: 'role name',
    access: '`GetItem` to issue or sign under the role; `Query` to list',
  },
  {
    pk: PK_CERT,
    owner: 'engines/pki/issuer.ts',
    holds: 'issued certificate metadata (a stored private key sealed inside)',
    sortKey: 'serial',
    access: '`GetItem` by serial; `Query` to list',
    expires: 'at the certificate `notAfter`',
  },
  {
    pk: PK_CERT_EXPIRY,
    owner: 'engines/pki/certificate-expiry.ts',
    holds: '`{subject: serial, event, due, claimedAt?}`: one expiry event of an issued certificate still to publish',
    sortKey: '`<13-digit due ms>/<serial>#<event>`',
    access: 'as `secrets-by-expiry`; written with the certificate it announces',
  },
  {
    pk: PK_REVOKED,
    owner: 'engines/pki/crl.ts',
    holds: 'a revoked serial and when',
    sortKey: 'serial',
    access: '`Query` to build the CRL',
  },
  {
    pk: PK_CRL,
    owner: 'engines/pki/crl.ts',
    holds: 'the CRL currently served (one item)',
    sortKey: '`current`',
    access: '`GetItem`; published unauthenticated at `/v1/pki/crl`',
  },
  {
    pk: AUDIT_DEVICE_PARTITION,
    owner: 'core/audit/devices/audit-device-service.ts',
    holds:
      'one item `devices`: every enabled audit device (type, options, filters, its HMAC key wrapped under the envelope key) and whether the built-in device is disabled',
    sortKey: '`devices`',
    access:
      '`GetItem` when a node loads its devices (at its first record; on AWS again every 10 s); a conditional put per enable or disable',
  },
  {
    pk: SSH_CA_PK,
    owner: 'engines/ssh/ssh-service.ts',
    holds:
      "the SSH CA: its public key (OpenSSH line), and either the CA key store's key id (ECDSA, RSA) or the Ed25519 " +
      'key sealed under the key provider',
    sortKey: '`current`',
    access: '`GetItem` to sign; published unauthenticated at `/v1/ssh/public_key`',
  },
  {
    pk: SSH_ROLE_PK,
    owner: 'engines/ssh/ssh-service.ts',
    holds: 'SSH role: `ca` (principals, extensions, critical options, key types) or `otp` (users, hosts); TTLs',
    sortKey: 'role name',
    access: '`GetItem` to sign or issue a password under the role; `Query` to list',
  },
  {
    pk: SSH_CERT_PK,
    owner: 'engines/ssh/ssh-service.ts',
    holds: 'a signed certificate: role, key id, principals, expiry (no key material)',
    sortKey: 'serial (decimal), written create-only so serials are unique',
    access: '`PutItem` when signing',
  },
  {
    pk: SSH_REVOKED_PK,
    owner: 'engines/ssh/ssh-service.ts',
    holds: "a revoked certificate's public key and expiry",
    sortKey: 'serial (decimal)',
    access: '`Query` to build the revoked-keys list, published unauthenticated at `/v1/ssh/revoked_keys`',
    expires: 'left out of the list once the certificate would have expired',
  },
  {
    pk: SSH_OTP_PK,
    owner: 'engines/ssh/ssh-service.ts',
    holds: 'a live one-time password: its SHA-256, user, host, expiry (never the password)',
    sortKey: 'SHA-256 of the password (hex)',
    access: '`GetItem` then a conditional `DeleteItem` to verify it once',
    expires: 'at verification, at its lease end, or refused after `expiresAt`',
  },
  {
    pk: OAUTH_CONFIG_PK,
    owner: 'engines/oauth/oauth-service.ts',
    holds:
      "the OAuth engine's config: issuer, its discovered metadata, client id and auth method; the client secret and " +
      'refresh token sealed under the key provider',
    sortKey: '`current`',
    access: '`GetItem` per token request; a put conditional on its revision when a refresh rotates the refresh token',
  },
  {
    pk: OAUTH_ROLE_PK,
    owner: 'engines/oauth/oauth-service.ts',
    holds: 'OAuth role: grant, allowed and default scopes, audience or resource, TTLs',
    sortKey: 'role name',
    access: '`GetItem` per token request under the role; `Query` to list',
  },
  {
    pk: OAUTH_TOKEN_PK,
    owner: 'engines/oauth/oauth-service.ts',
    holds: 'an access token under a live lease, sealed under the key provider, for its revocation (RFC 7009)',
    sortKey: 'SHA-256 of the access token (hex)',
    access: '`PutItem` when issued; `GetItem` then `DeleteItem` when its lease is revoked',
    expires: "at its lease's revocation; store expiry at the token's own expiry",
  },
  {
    pk: OUTBOX_PARTITION_PREFIX,
    prefix: '<shard>',
    owner: 'core/audit/outbox/audit-outbox.ts',
    holds: 'a chained audit record, written in the transaction of the change it describes',
    sortKey: '`<ms>#<request id>#<seq>` (shard = hash(request id) mod 4)',
    access: 'the relay `Query`s a shard, ships an S3 segment, then deletes what it shipped',
  },
  {
    pk: RELAY_PARTITION,
    owner: 'core/audit/outbox/outbox-relay.ts',
    holds: 'last shipped seq and hash',
    sortKey: 'stream id',
    access: '`GetItem`, then a put with a `rev` check',
  },
  {
    pk: COMPLIANCE_PARTITION,
    owner: 'core/compliance/stored-report.ts',
    holds:
      '`{since, report}`: the last compliance report the scheduled function computed (AWS only): its figures, ' +
      'window and `generatedAt` (names and counts, never a secret value)',
    sortKey: `\`${LATEST_REPORT_SK}\``,
    access:
      'one unconditional put per run of the compliance function (its only write grant); `GetItem` by the broker per ' +
      '`GET /v1/sys/compliance`',
  },
  {
    pk: INIT_PK,
    owner: 'entrypoints/local/compose.ts',
    holds:
      '`init`: `{initializedAt, rootAccessor}` (a local node on SQLite); `cluster`: `{initializedAt, rootAccessor, ' +
      'auditSalt}` (local nodes sharing a PostgreSQL store, docs/ha.md: the audit salt, wrapped under the shared ' +
      'keyring, which a joining node must unwrap)',
    sortKey: '`init` or `cluster`',
    access:
      'one create-only put by `coffer init` (or the first server start); on a shared store, a `GetItem` of `cluster` ' +
      'by every node at start',
  },
];
