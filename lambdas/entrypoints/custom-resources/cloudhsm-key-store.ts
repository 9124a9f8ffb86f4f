/**
 * The custom resource behind `CofferControlPlane`'s optional CloudHSM mode: it puts the envelope key in a KMS custom
 * key store backed by the operator's CloudHSM cluster. CloudFormation cannot create such a key (`AWS::KMS::Key` has no
 * `CustomKeyStoreId`, and refuses `Origin: AWS_CLOUDHSM`), so this resource does, in two steps run by the CDK provider
 * framework:
 *
 * - `onEvent` (Create/Update): checks the cluster (ACTIVE, at least two active HSMs in different AZs), creates the
 *   custom key store (or finds it by name: re-runs are idempotent) and asks KMS to connect it.
 * - `isComplete`, polled: waits for the store to be CONNECTED (this takes minutes), then creates the envelope key in it
 *   under `alias/<name>/envelope`, or finds it by that alias, and returns its ARN.
 * - Delete: disconnects the store and deletes it when it holds no key. A store holding the envelope key is left
 *   disconnected, never deleted: that key is what unwraps every stored secret.
 *
 * The logic takes its SDK clients as arguments so tests drive it with `aws-sdk-client-mock`.
 */
import { CloudHSMV2Client, DescribeClustersCommand } from '@aws-sdk/client-cloudhsm-v2';
import {
  ConnectCustomKeyStoreCommand,
  CreateAliasCommand,
  CreateCustomKeyStoreCommand,
  CreateKeyCommand,
  DeleteCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  DisconnectCustomKeyStoreCommand,
  KMSClient,
} from '@aws-sdk/client-kms';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** The resource properties CloudFormation passes (strings, as CloudFormation sends them). */
export interface KeyStoreProperties {
  readonly ClusterId: string;
  readonly KeyStoreName: string;
  /** PEM of the CA certificate that signed the cluster's certificate (public). */
  readonly TrustAnchorCertificate: string;
  /** Secrets Manager secret holding the `kmsuser` crypto-user password; never passed as a property itself. */
  readonly KmsUserPasswordSecretArn: string;
  /** e.g. `alias/coffer/envelope`. */
  readonly KeyAlias: string;
  readonly KeyDescription: string;
  /** The key policy, JSON. */
  readonly KeyPolicy: string;
}

export interface KeyStoreClients {
  readonly hsm: Pick<CloudHSMV2Client, 'send'>;
  readonly kms: Pick<KMSClient, 'send'>;
  readonly secrets: Pick<SecretsManagerClient, 'send'>;
}

/** What the provider framework hands `onEvent` and `isComplete`. */
export interface KeyStoreEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: KeyStoreProperties & { readonly ServiceToken?: string };
}

export class KeyStoreNotReadyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyStoreNotReadyError';
  }
}

const MIN_HSMS = 2;

/**
 * Checks the cluster can back a KMS custom key store: ACTIVE, with at least two ACTIVE HSMs in different AZs (KMS
 * refuses fewer, and one AZ is one failure away from an unusable envelope key).
 * @throws KeyStoreNotReadyError saying what is missing.
 */
export async function checkCluster(hsm: KeyStoreClients['hsm'], clusterId: string): Promise<void> {
  const output = await hsm.send(new DescribeClustersCommand({ Filters: { clusterIds: [clusterId] } }));
  const cluster = output.Clusters?.find((c) => c.ClusterId === clusterId);
  if (cluster === undefined) throw new KeyStoreNotReadyError(`CloudHSM cluster ${clusterId} was not found`);
  if (cluster.State !== 'ACTIVE') {
    throw new KeyStoreNotReadyError(
      `CloudHSM cluster ${clusterId} is ${cluster.State ?? 'in an unknown state'}, not ACTIVE: initialise and activate it first`,
    );
  }
  const active = (cluster.Hsms ?? []).filter((h) => h.State === 'ACTIVE');
  const zones = new Set(active.map((h) => h.AvailabilityZone).filter((z): z is string => z !== undefined));
  if (active.length < MIN_HSMS || zones.size < MIN_HSMS) {
    throw new KeyStoreNotReadyError(
      `CloudHSM cluster ${clusterId} has ${active.length} active HSM(s) in ${zones.size} availability zone(s); ` +
        `a KMS custom key store needs at least ${MIN_HSMS} active HSMs in different availability zones`,
    );
  }
}

async function findStore(kms: KeyStoreClients['kms'], lookup: { name?: string; id?: string }) {
  try {
    const output = await kms.send(
      new DescribeCustomKeyStoresCommand(
        lookup.id !== undefined ? { CustomKeyStoreId: lookup.id } : { CustomKeyStoreName: lookup.name },
      ),
    );
    return output.CustomKeyStores?.[0];
  } catch (err) {
    if (err instanceof Error && err.name === 'CustomKeyStoreNotFoundException') return undefined;
    throw err;
  }
}

async function readPassword(secrets: KeyStoreClients['secrets'], secretArn: string): Promise<string> {
  const output = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
  const password = output.SecretString?.trim();
  if (password === undefined || password.length < 7 || password.length > 32) {
    // The value itself is never part of the message.
    throw new KeyStoreNotReadyError(`the kmsuser password in ${secretArn} must be 7-32 characters`);
  }
  return password;
}

/**
 * Create/Update: check the cluster, create (or find) the custom key store and start connecting it.
 * Delete: disconnect, and delete the store unless it holds a key.
 * @returns the custom key store id as the physical resource id.
 */
export async function onKeyStoreEvent(
  event: KeyStoreEvent,
  clients: KeyStoreClients,
): Promise<{ PhysicalResourceId: string }> {
  const props = event.ResourceProperties;
  if (event.RequestType === 'Delete') {
    const id = event.PhysicalResourceId;
    const store = id === undefined || !id.startsWith('cks-') ? undefined : await findStore(clients.kms, { id });
    if (store === undefined) return { PhysicalResourceId: id ?? 'none' };
    if (store.ConnectionState === 'CONNECTED' || store.ConnectionState === 'CONNECTING') {
      await clients.kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: store.CustomKeyStoreId }));
    }
    try {
      await clients.kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: store.CustomKeyStoreId }));
    } catch (err) {
      // Holding the envelope key: keep the (disconnected) store, the key is needed to read every secret.
      if (!(err instanceof Error && err.name === 'CustomKeyStoreHasCMKsException')) throw err;
    }
    return { PhysicalResourceId: store.CustomKeyStoreId! };
  }

  await checkCluster(clients.hsm, props.ClusterId);
  let store = await findStore(clients.kms, { name: props.KeyStoreName });
  if (store !== undefined && store.CloudHsmClusterId !== props.ClusterId) {
    throw new KeyStoreNotReadyError(
      `custom key store ${props.KeyStoreName} already exists for cluster ${store.CloudHsmClusterId}, not ${props.ClusterId}`,
    );
  }
  if (store === undefined) {
    const created = await clients.kms.send(
      new CreateCustomKeyStoreCommand({
        CustomKeyStoreName: props.KeyStoreName,
        CloudHsmClusterId: props.ClusterId,
        TrustAnchorCertificate: props.TrustAnchorCertificate,
        KeyStorePassword: await readPassword(clients.secrets, props.KmsUserPasswordSecretArn),
      }),
    );
    store = { CustomKeyStoreId: created.CustomKeyStoreId, ConnectionState: 'DISCONNECTED' };
  }
  if (store.ConnectionState === 'DISCONNECTED' || store.ConnectionState === 'FAILED') {
    await clients.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: store.CustomKeyStoreId }));
  }
  return { PhysicalResourceId: store.CustomKeyStoreId! };
}

/**
 * Polled until it says complete: the store must be CONNECTED, then the envelope key is created in it (or found by its
 * alias, so a retried poll never makes a second key).
 * @throws KeyStoreNotReadyError when connecting failed, with KMS's error code.
 */
export async function isKeyStoreComplete(
  event: KeyStoreEvent,
  clients: Pick<KeyStoreClients, 'kms'>,
): Promise<{ IsComplete: boolean; Data?: { KeyArn: string; CustomKeyStoreId: string } }> {
  if (event.RequestType === 'Delete') return { IsComplete: true };
  const id = event.PhysicalResourceId!;
  const props = event.ResourceProperties;
  const store = await findStore(clients.kms, { id });
  if (store === undefined) throw new KeyStoreNotReadyError(`custom key store ${id} disappeared while connecting`);
  if (store.ConnectionState === 'FAILED') {
    throw new KeyStoreNotReadyError(
      `custom key store ${id} failed to connect (${store.ConnectionErrorCode ?? 'no error code'}): check the cluster, ` +
        'the kmsuser password and the trust anchor certificate',
    );
  }
  if (store.ConnectionState !== 'CONNECTED') return { IsComplete: false };

  const existing = await describeAlias(clients.kms, props.KeyAlias);
  if (existing !== undefined) {
    if (existing.CustomKeyStoreId !== id) {
      throw new KeyStoreNotReadyError(`${props.KeyAlias} already names a key outside custom key store ${id}`);
    }
    return { IsComplete: true, Data: { KeyArn: existing.Arn!, CustomKeyStoreId: id } };
  }
  const created = await clients.kms.send(
    new CreateKeyCommand({
      CustomKeyStoreId: id,
      Origin: 'AWS_CLOUDHSM',
      KeySpec: 'SYMMETRIC_DEFAULT',
      KeyUsage: 'ENCRYPT_DECRYPT',
      Description: props.KeyDescription,
      Policy: props.KeyPolicy,
    }),
  );
  const keyArn = created.KeyMetadata!.Arn!;
  await clients.kms.send(new CreateAliasCommand({ AliasName: props.KeyAlias, TargetKeyId: keyArn }));
  return { IsComplete: true, Data: { KeyArn: keyArn, CustomKeyStoreId: id } };
}

async function describeAlias(kms: KeyStoreClients['kms'], alias: string) {
  try {
    return (await kms.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata;
  } catch (err) {
    if (err instanceof Error && err.name === 'NotFoundException') return undefined;
    throw err;
  }
}

let defaultClients: KeyStoreClients | undefined;
function clients(): KeyStoreClients {
  defaultClients ??= { hsm: new CloudHSMV2Client({}), kms: new KMSClient({}), secrets: new SecretsManagerClient({}) };
  return defaultClients;
}

/** Provider framework `onEvent` entry. */
export const onEvent = (event: KeyStoreEvent) => onKeyStoreEvent(event, clients());
/** Provider framework `isComplete` entry. */
export const isComplete = (event: KeyStoreEvent) => isKeyStoreComplete(event, clients());
