/**
 * `docs/data-model.md`: the prose below, around the table of partitions rendered from the partition registry
 * (`lambdas/entrypoints/partitions.ts`). `npm run data-model` writes it; a unit test fails when the committed file
 * differs from what this renders.
 */
import { PARTITIONS, type Partition } from '../lambdas/entrypoints/partitions.ts';

const HEADER = `# Data model: the single DynamoDB table

Coffer on AWS keeps everything but audit segments in **one** DynamoDB table (\`CofferControlPlane.table\`), written only
through the \`Store\` port (\`lambdas/core/ports/store.ts\`) by \`DynamoDbStore\`
(\`lambdas/adapters/aws/dynamodb-store/dynamodb-store.ts\`). The same services run on SQLite locally, so the layout below
is the port's layout, not a DynamoDB-only design.

## Table

| Setting | Value |
| --- | --- |
| Partition key | \`pk\` (S) |
| Sort key | \`sk\` (S), ordered by UTF-8 bytes (the port's order) |
| TTL attribute | \`expiresAt\` (N, epoch **seconds**) |
| Billing | on demand (\`PAY_PER_REQUEST\`) |
| Encryption | SSE-KMS with the storage key (never the envelope key) |
| Recovery | point-in-time recovery; deletion protection unless \`removalPolicy: DESTROY\` |
| Indexes | none: every access pattern is a \`GetItem\` or a \`Query\` on one partition |

Every item has the same attributes:

| Attribute | Type | Meaning |
| --- | --- | --- |
| \`pk\`, \`sk\` | S | the key (below) |
| \`rev\` | N | revision, \`if_not_exists(rev, 0) + 1\` on every put: the optimistic-lock token |
| \`data\` | S | the JSON document (so arbitrary keys never meet DynamoDB attribute-name rules) |
| \`expiresAt\` | N | epoch seconds, only on items that expire; DynamoDB TTL deletes them (within ~48 h) |
| \`expiresAtMs\` | N | the exact expiry in ms; reads treat an item past it as absent, whatever TTL has done |

Secret material never appears in clear: a version's \`data\` holds the AES-256-GCM ciphertext and the data key wrapped
by KMS under the encryption context \`{secretId: <secret ARN>, versionId}\`. Tokens are stored by SHA-256 hash only.

`;

const SEPARATORS = `Partition keys come in three separator styles, kept as they are because renaming one would orphan stored
items: a \`#\` between a kind and its qualifier (\`secret-versions#<arn>\`, \`pki#ca\`, \`audit-outbox#<shard>\`), a \`/\`
in the engines' configuration (\`database/config\`, \`aws/roles\`), and a \`-\` in compound names (\`token-accessors\`,
\`lease-due\`, \`rotation-config\`). A prefixed partition (the key is the prefix followed by the qualifier in angle
brackets) holds one group of items: the versions of one secret, the children of one token, one audit shard.
`;

const FOOTER = `A partition per kind keeps listings to one \`Query\`; a partition per secret for versions keeps one secret's history
together and makes a re-created secret (new ARN) unable to see its predecessor's versions.

## Access patterns

| Operation | Calls | Condition |
| --- | --- | --- |
| Read a secret value | \`GetItem secrets/<name>\` → \`GetItem secret-versions#<arn>/<version>\` → KMS \`Decrypt\` (cached data key) | strongly consistent reads |
| List / search secrets | \`Query pk=secrets\` (optionally \`begins_with(sk, prefix)\`), paged with \`ExclusiveStartKey\` | |
| ListSecrets (creation order) | \`Query pk=secrets-by-creation, begins_with(sk, 'a/' or 'd/')\` one page at a time → \`GetItem secrets/<name>\` for each name the caller may list | at most 1000 index entries a page |
| Create a secret | \`TransactWriteItems\`: put version + put secret | both \`attribute_not_exists(pk)\` |
| New value (\`PutSecretValue\`), stage moves (\`UpdateSecretVersionStage\`), rotation steps | \`TransactWriteItems\`: put new version (\`attribute_not_exists\`) + put secret (\`rev = :seen\`) + delete pruned versions | the secret's \`rev\` read before the change |
| Metadata update, tag | \`UpdateItem secrets/<name>\` | \`rev = :seen\` |
| Delete (scheduled) / restore | \`TransactWriteItems\`: put secret + put / delete its \`secrets-by-deletion\` entry | \`rev = :seen\` |
| Purge what is due | \`Query pk=secrets-by-deletion\` from the start until an entry is not yet due → \`GetItem secrets/<name>\` → \`TransactWriteItems\`: delete secret, its index entries and versions (a stale entry is deleted alone) | \`rev = :seen\` |
| Authenticate a token | \`GetItem tokens/<hash>\` | item not past \`expiresAtMs\` |
| Create a child token | \`TransactWriteItems\`: put token + put accessor + put child edge + condition-check parent accessor | parent \`attribute_exists\` (a revoked parent fails the whole transaction) |
| Revoke a token tree | \`Query token-children#<accessor>\` recursively, then deletes in transactions of ≤ 100 items | |
| Resolve an IAM caller | \`Query pk=iam-principals\` (cached 5 s per instance) | |
| Policy read / write | \`GetItem\` / \`UpdateItem policies/<name>\` | write \`rev\` check on update |
| Leases due for revocation | \`Query pk=lease-due, sk <= <now padded>\` | |
| Audit (with the outbox) | each change's transaction also puts its \`audit-outbox#<shard>\` record; the relay \`Query\`s a shard, writes an S3 segment, then deletes the shipped items and moves \`audit-relay/<stream>\` with a \`rev\` check | \`attribute_not_exists\` on the record |

### Why there are no lost updates

Every read-modify-write carries the \`rev\` it read as a condition (\`#rev = :rev\`), and the multi-item changes (a new
version plus the staging labels that move to it, with the versions pruned beyond the limit) are one
\`TransactWriteItems\`, so either every item changes or none does. Two writers that read the same \`rev\` cannot both
succeed: the loser gets \`TransactionCanceledException\` with \`ConditionalCheckFailed\` for the secret item, which the
store reports as \`ConditionFailedError\` and the service retries from a fresh read (or turns into \`ConflictError\` for
a caller's explicit check-and-set). The emulator test runs 50 parallel writers against one secret and finds every
write in the version history.

A single put or delete is a plain conditional \`UpdateItem\`/\`DeleteItem\` (half the write units of a one-item
transaction). There is no \`PutItem\`: a put is an update expression, so the revision increments inside DynamoDB
without a prior read, which is also why the broker's role has \`UpdateItem\` and not \`PutItem\`.

### Capacity notes

A transaction costs 2 write units per item of up to 1 KB; a strongly consistent read 1 read unit per 4 KB. A secret
read is two \`GetItem\`s (about 2 RRU) and, on a data-key cache miss, one KMS \`Decrypt\`. A new value is a 2-4 item
transaction (4-8 WRU). \`docs/COST.md\` turns these into money.
`;

function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

function row(partition: Partition): string {
  const key = `\`${partition.pk}${partition.prefix ?? ''}\``;
  const cells = [key, partition.sortKey, partition.holds, partition.access, partition.expires ?? 'no'].map(cell);
  return `| ${cells.join(' | ')} | \`${partition.owner}\` |`;
}

export function renderDataModel(partitions: readonly Partition[] = PARTITIONS): string {
  const table = [
    '| `pk` | `sk` | `data` | Access | Expires | Owner (under `lambdas/`) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...partitions.map(row),
  ].join('\n');
  const generated =
    '<!-- Generated by `npm run data-model` from lambdas/entrypoints/partitions.ts: edit the registry, not this table. -->';
  return `${HEADER}## Partitions\n\n${generated}\n\n${table}\n\n${SEPARATORS}\n${FOOTER}`;
}
