import { type Cluster, DescribeClustersCommand, type Hsm } from '@aws-sdk/client-cloudhsm-v2';
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
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  isKeyStoreComplete,
  type KeyStoreClients,
  type KeyStoreEvent,
  onKeyStoreEvent,
} from '../../../../lambdas/entrypoints/custom-resources/cloudhsm-key-store.ts';

const CLUSTER = 'cluster-abc123';
const STORE = 'cks-0123456789abcdef0';
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const PASSWORD = 'kmsuser-pass-123';
const props = {
  ClusterId: CLUSTER,
  KeyStoreName: 'coffer-envelope',
  TrustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
  KmsUserPasswordSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kmsuser-AbCdEf',
  KeyAlias: 'alias/coffer/envelope',
  KeyDescription: 'Coffer envelope key',
  KeyPolicy: '{"Version":"2012-10-17","Statement":[]}',
};
const event = (RequestType: KeyStoreEvent['RequestType'], PhysicalResourceId?: string): KeyStoreEvent => ({
  RequestType,
  ...(PhysicalResourceId !== undefined && { PhysicalResourceId }),
  ResourceProperties: props,
});
const hsm = (AvailabilityZone: string, State = 'ACTIVE'): Hsm => ({
  HsmId: `hsm-${AvailabilityZone}`,
  AvailabilityZone,
  State,
});
const notFound = (name: string) => Object.assign(new Error(name), { name });

describe('Custom resource: CloudHSM key store', () => {
  // A hand-written fake: the CloudHSM client's smithy types predate aws-sdk-client-mock's.
  let clusters: Cluster[] = [];
  const hsmCalls: unknown[] = [];
  const hsmClient = {
    send: async (command: unknown) => {
      hsmCalls.push(command);
      if (!(command instanceof DescribeClustersCommand)) throw new Error('unexpected CloudHSM call');
      return { Clusters: clusters };
    },
  } as unknown as KeyStoreClients['hsm'];
  const kmsMock = mockClient(KMSClient);
  const secretsMock = mockClient(SecretsManagerClient);
  const clients = () => ({
    hsm: hsmClient,
    kms: new KMSClient({ region: 'eu-west-1' }),
    secrets: new SecretsManagerClient({ region: 'eu-west-1' }),
  });
  afterEach(() => {
    clusters = [];
    hsmCalls.length = 0;
    kmsMock.reset();
    secretsMock.reset();
  });

  const cluster = (State: string, Hsms: Hsm[]) => {
    clusters = [{ ClusterId: CLUSTER, State, Hsms }];
  };

  describe('onEvent (Create)', () => {
    it('refuses a cluster that is not ACTIVE, before touching KMS', async () => {
      cluster('UNINITIALIZED', [hsm('eu-west-1a'), hsm('eu-west-1b')]);
      await expect(onKeyStoreEvent(event('Create'), clients())).rejects.toThrow(
        `CloudHSM cluster ${CLUSTER} is UNINITIALIZED, not ACTIVE`,
      );
      expect(kmsMock.calls()).toHaveLength(0);
    });

    it('refuses a cluster with one HSM', async () => {
      cluster('ACTIVE', [hsm('eu-west-1a')]);
      await expect(onKeyStoreEvent(event('Create'), clients())).rejects.toThrow(
        /has 1 active HSM\(s\) in 1 availability zone\(s\); a KMS custom key store needs at least 2/,
      );
    });

    it('refuses two HSMs in the same availability zone', async () => {
      cluster('ACTIVE', [hsm('eu-west-1a'), { ...hsm('eu-west-1a'), HsmId: 'hsm-2' }]);
      await expect(onKeyStoreEvent(event('Create'), clients())).rejects.toThrow(/in 1 availability zone\(s\)/);
    });

    it('does not count an HSM that is not ACTIVE', async () => {
      cluster('ACTIVE', [hsm('eu-west-1a'), hsm('eu-west-1b', 'CREATE_IN_PROGRESS')]);
      await expect(onKeyStoreEvent(event('Create'), clients())).rejects.toThrow(/has 1 active HSM/);
    });

    it('refuses an unknown cluster', async () => {
      clusters = [];
      await expect(onKeyStoreEvent(event('Create'), clients())).rejects.toThrow(
        `CloudHSM cluster ${CLUSTER} was not found`,
      );
    });

    it('creates the store with the password from the secret and starts connecting it', async () => {
      cluster('ACTIVE', [hsm('eu-west-1a'), hsm('eu-west-1b')]);
      kmsMock.on(DescribeCustomKeyStoresCommand).rejects(notFound('CustomKeyStoreNotFoundException'));
      secretsMock
        .on(GetSecretValueCommand, { SecretId: props.KmsUserPasswordSecretArn })
        .resolves({ SecretString: PASSWORD });
      kmsMock.on(CreateCustomKeyStoreCommand).resolves({ CustomKeyStoreId: STORE });
      kmsMock.on(ConnectCustomKeyStoreCommand).resolves({});

      expect(await onKeyStoreEvent(event('Create'), clients())).toEqual({ PhysicalResourceId: STORE });
      expect(kmsMock.commandCalls(CreateCustomKeyStoreCommand)[0]!.args[0].input).toEqual({
        CustomKeyStoreName: 'coffer-envelope',
        CloudHsmClusterId: CLUSTER,
        TrustAnchorCertificate: props.TrustAnchorCertificate,
        KeyStorePassword: PASSWORD,
      });
      expect(kmsMock.commandCalls(ConnectCustomKeyStoreCommand)[0]!.args[0].input).toEqual({ CustomKeyStoreId: STORE });
    });

    it('is idempotent: a re-run finds the connected store by name and creates nothing', async () => {
      cluster('ACTIVE', [hsm('eu-west-1a'), hsm('eu-west-1b')]);
      kmsMock.on(DescribeCustomKeyStoresCommand).resolves({
        CustomKeyStores: [{ CustomKeyStoreId: STORE, CloudHsmClusterId: CLUSTER, ConnectionState: 'CONNECTED' }],
      });
      expect(await onKeyStoreEvent(event('Update', STORE), clients())).toEqual({ PhysicalResourceId: STORE });
      expect(kmsMock.commandCalls(CreateCustomKeyStoreCommand)).toHaveLength(0);
      expect(kmsMock.commandCalls(ConnectCustomKeyStoreCommand)).toHaveLength(0);
      expect(secretsMock.calls()).toHaveLength(0);
    });

    it('refuses a password outside 7-32 characters without echoing it', async () => {
      cluster('ACTIVE', [hsm('eu-west-1a'), hsm('eu-west-1b')]);
      kmsMock.on(DescribeCustomKeyStoresCommand).rejects(notFound('CustomKeyStoreNotFoundException'));
      secretsMock.on(GetSecretValueCommand).resolves({ SecretString: 'short' });
      const failure = onKeyStoreEvent(event('Create'), clients());
      await expect(failure).rejects.toThrow(/kmsuser password .* must be 7-32 characters/);
      await expect(failure).rejects.not.toThrow('short');
    });
  });

  describe('isComplete', () => {
    it('waits while the store is connecting', async () => {
      kmsMock
        .on(DescribeCustomKeyStoresCommand)
        .resolves({ CustomKeyStores: [{ CustomKeyStoreId: STORE, ConnectionState: 'CONNECTING' }] });
      expect(await isKeyStoreComplete(event('Create', STORE), clients())).toEqual({ IsComplete: false });
      expect(kmsMock.commandCalls(CreateKeyCommand)).toHaveLength(0);
    });

    it('fails with the connection error code', async () => {
      kmsMock.on(DescribeCustomKeyStoresCommand).resolves({
        CustomKeyStores: [
          { CustomKeyStoreId: STORE, ConnectionState: 'FAILED', ConnectionErrorCode: 'INVALID_CREDENTIALS' },
        ],
      });
      await expect(isKeyStoreComplete(event('Create', STORE), clients())).rejects.toThrow(
        `custom key store ${STORE} failed to connect (INVALID_CREDENTIALS)`,
      );
    });

    it('creates the envelope key in the connected store, with its policy and alias', async () => {
      kmsMock
        .on(DescribeCustomKeyStoresCommand)
        .resolves({ CustomKeyStores: [{ CustomKeyStoreId: STORE, ConnectionState: 'CONNECTED' }] });
      kmsMock.on(DescribeKeyCommand).rejects(notFound('NotFoundException'));
      kmsMock.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: 'k', Arn: KEY_ARN } });
      kmsMock.on(CreateAliasCommand).resolves({});
      expect(await isKeyStoreComplete(event('Create', STORE), clients())).toEqual({
        IsComplete: true,
        Data: { KeyArn: KEY_ARN, CustomKeyStoreId: STORE },
      });
      expect(kmsMock.commandCalls(CreateKeyCommand)[0]!.args[0].input).toMatchObject({
        CustomKeyStoreId: STORE,
        Origin: 'AWS_CLOUDHSM',
        KeySpec: 'SYMMETRIC_DEFAULT',
        KeyUsage: 'ENCRYPT_DECRYPT',
        Policy: props.KeyPolicy,
      });
      expect(kmsMock.commandCalls(CreateAliasCommand)[0]!.args[0].input).toEqual({
        AliasName: 'alias/coffer/envelope',
        TargetKeyId: KEY_ARN,
      });
    });

    it('is idempotent: a repeated poll finds the key by alias and creates no second key', async () => {
      kmsMock
        .on(DescribeCustomKeyStoresCommand)
        .resolves({ CustomKeyStores: [{ CustomKeyStoreId: STORE, ConnectionState: 'CONNECTED' }] });
      kmsMock.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'k', Arn: KEY_ARN, CustomKeyStoreId: STORE } });
      expect((await isKeyStoreComplete(event('Create', STORE), clients())).Data?.KeyArn).toBe(KEY_ARN);
      expect(kmsMock.commandCalls(CreateKeyCommand)).toHaveLength(0);
    });

    it('refuses an alias that already names a key outside the store', async () => {
      kmsMock
        .on(DescribeCustomKeyStoresCommand)
        .resolves({ CustomKeyStores: [{ CustomKeyStoreId: STORE, ConnectionState: 'CONNECTED' }] });
      kmsMock.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'k', Arn: KEY_ARN } });
      await expect(isKeyStoreComplete(event('Create', STORE), clients())).rejects.toThrow(/outside custom key store/);
    });
  });

  describe('onEvent (Delete)', () => {
    it('disconnects and deletes a store that holds no key', async () => {
      kmsMock
        .on(DescribeCustomKeyStoresCommand)
        .resolves({ CustomKeyStores: [{ CustomKeyStoreId: STORE, ConnectionState: 'CONNECTED' }] });
      kmsMock.on(DisconnectCustomKeyStoreCommand).resolves({});
      kmsMock.on(DeleteCustomKeyStoreCommand).resolves({});
      expect(await onKeyStoreEvent(event('Delete', STORE), clients())).toEqual({ PhysicalResourceId: STORE });
      expect(kmsMock.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(1);
      expect(kmsMock.commandCalls(DeleteCustomKeyStoreCommand)).toHaveLength(1);
      expect(hsmCalls).toHaveLength(0);
    });

    it('keeps a store that holds the envelope key, disconnected', async () => {
      kmsMock
        .on(DescribeCustomKeyStoresCommand)
        .resolves({ CustomKeyStores: [{ CustomKeyStoreId: STORE, ConnectionState: 'DISCONNECTED' }] });
      kmsMock.on(DeleteCustomKeyStoreCommand).rejects(notFound('CustomKeyStoreHasCMKsException'));
      expect(await onKeyStoreEvent(event('Delete', STORE), clients())).toEqual({ PhysicalResourceId: STORE });
      expect(kmsMock.commandCalls(DisconnectCustomKeyStoreCommand)).toHaveLength(0);
    });

    it('succeeds for a store that was never created', async () => {
      expect(await onKeyStoreEvent(event('Delete', 'none'), clients())).toEqual({ PhysicalResourceId: 'none' });
      expect(kmsMock.calls()).toHaveLength(0);
    });
  });
});
