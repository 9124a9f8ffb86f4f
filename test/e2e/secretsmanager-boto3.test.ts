import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { awsClientEnv } from '../support/aws-client-env.ts';
import { useServer } from '../support/use-server.ts';

/**
 * boto3 (the AWS SDK for Python) against a running Coffer: the scenarios in `clients/secretsmanager_boto3.py` call it
 * as a Python application written for AWS would, with only `endpoint_url` added, and print what boto3 and botocore
 * made of the answers; this file asserts on that. `.ci/run` makes sure boto3 is importable.
 */
const SCRIPT = path.join(import.meta.dirname, 'clients/secretsmanager_boto3.py');
const REGION = 'eu-west-1';
/** A second signing region the server serves, for the regional and replication scenarios. */
const OTHER_REGION = 'us-west-2';
const current = useServer({ COFFER_SIGV4_REGIONS: `${REGION},${OTHER_REGION}` });
let env: NodeJS.ProcessEnv;

interface BotoError {
  code: string;
  message: string;
  status: number;
}

function boto3<T>(scenarioName: string, prefix: string): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(
      'python3',
      [SCRIPT, scenarioName, prefix],
      { env: { ...env, COFFER_SM_ENDPOINT: current().address, COFFER_OTHER_REGION: OTHER_REGION }, timeout: 120_000 },
      (err, stdout, stderr) => {
        if (err !== null) reject(new Error(`boto3 scenario ${scenarioName} failed: ${stderr}`));
        else resolve(JSON.parse(stdout) as T);
      },
    );
  });
}

const prefix = (tag: string) => `${tag}${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  try {
    execFileSync('python3', ['-c', 'import boto3'], { stdio: 'pipe' });
  } catch {
    throw new Error('boto3 is not importable by python3: `python3 -m pip install boto3` (.ci/run does it in CI)');
  }
  env = await awsClientEnv(current(), { principal: 'python-app', region: REGION });
});

describe('boto3 against Coffer', () => {
  it('creates, reads, writes, tags, lists, describes, deletes and restores a secret', async () => {
    const p = prefix('py');
    const out = await boto3<{
      create: { arn: string; name: string; versionId: string };
      get: { secretString: string; versionId: string; versionStages: string[]; createdAgeSeconds: number };
      put: { versionId: string; versionStages: string[] };
      getByArn: { secretString: string };
      binary: number[];
      describe: {
        name: string;
        description: string;
        tags: { Key: string; Value: string }[];
        versionIdsToStages: Record<string, string[]>;
        lastChangedAgeSeconds: number;
      };
      versions: string[];
      list: string[];
      paginated: string[];
      deletionAgeDays: number;
      readWhilePending: BotoError;
      listedWhilePending: string[];
      listedWithPlanned: string[];
      afterRestore: string;
      afterForceDelete: BotoError;
    }>('lifecycle', p);
    const name = `${p}/app`;
    expect(out.create.arn).toMatch(
      new RegExp(`^arn:aws:secretsmanager:${REGION}:\\d{12}:secret:${name}-[A-Za-z0-9]{6}$`),
    );
    expect(out.create.name).toBe(name);
    expect(out.get).toMatchObject({
      secretString: '{"user":"app","password":"pw-1"}',
      versionId: out.create.versionId,
      versionStages: ['AWSCURRENT'],
    });
    // botocore turned the epoch seconds into a datetime of today.
    expect(out.get.createdAgeSeconds).toBeLessThan(3600);
    expect(out.put.versionStages).toEqual(['AWSCURRENT']);
    expect(out.getByArn.secretString).toBe('pw-2');
    expect(out.binary).toEqual([0, 1, 255]);
    expect(out.describe).toMatchObject({
      name,
      description: 'Payments database',
      tags: [{ Key: 'env', Value: 'prod' }],
      versionIdsToStages: { [out.create.versionId]: ['AWSPREVIOUS'], [out.put.versionId]: ['AWSCURRENT'] },
    });
    expect(out.describe.lastChangedAgeSeconds).toBeLessThan(3600);
    expect(out.versions).toEqual([out.create.versionId, out.put.versionId].sort());
    expect(out.list).toEqual([name, `${p}/binary`]);
    // boto3's paginator follows NextToken page by page.
    expect(out.paginated).toEqual([name, `${p}/binary`]);
    expect(out.deletionAgeDays).toBeGreaterThan(6.9);
    expect(out.deletionAgeDays).toBeLessThan(7.1);
    expect(out.readWhilePending).toMatchObject({ code: 'InvalidRequestException', status: 400 });
    expect(out.listedWhilePending).toEqual([]);
    expect(out.listedWithPlanned).toEqual([name]);
    expect(out.afterRestore).toBe('pw-2');
    expect(out.afterForceDelete).toMatchObject({ code: 'ResourceNotFoundException', status: 400 });
  }, 180_000);

  it('filters as AWS does: words for description and all, case-sensitive prefixes for names and tags', async () => {
    const out = await boto3<Record<string, string[]> & { 'no values': BotoError }>('filters', prefix('pf'));
    expect(out['description a']).toEqual(['one', 'two', 'three']);
    expect(out['description a secret']).toEqual(['one', 'two']);
    expect(out['description !a']).toEqual(['four', 'MyTestPhrase']);
    expect(out['description one, description two']).toEqual(['MyTestPhrase']);
    expect(out['tag-key Env']).toEqual(['one', 'two']);
    expect(out['tag-key !Env']).toEqual(['three', 'four', 'MyTestPhrase']);
    expect(out['tag-value Prod']).toEqual(['one']);
    expect(out['all test phrase']).toEqual(['MyTestPhrase']);
    expect(out['all blue, thesecret']).toEqual(['four']);
    expect(out['desc order']).toEqual(['three', 'two', 'one']);
    expect(out['batch description a secret']).toEqual(['one', 'two']);
    expect(out['no values']).toEqual({
      code: 'InvalidParameterException',
      message: 'Invalid filter values for key: description',
      status: 400,
    });
  }, 180_000);

  it('surfaces AWS error codes and statuses to botocore', async () => {
    const p = prefix('pe');
    const out = await boto3<{
      missing: BotoError;
      duplicate: BotoError;
      bothValues: BotoError;
      noStage: BotoError;
      recoveryAndForce: BotoError;
      badNextToken: BotoError;
      batchBoth: BotoError;
      validateResourcePolicy: BotoError;
      batchPerSecret: Record<string, string>[];
    }>('errors', p);
    expect(out.missing).toMatchObject({ code: 'ResourceNotFoundException', status: 400 });
    expect(out.duplicate).toMatchObject({ code: 'ResourceExistsException', status: 400 });
    expect(out.bothValues).toMatchObject({ code: 'InvalidParameterException', status: 400 });
    expect(out.bothValues.message).toBe(
      "You can't specify both a binary secret value and a string secret value in the same secret.",
    );
    expect(out.noStage).toMatchObject({ code: 'ResourceNotFoundException', status: 400 });
    expect(out.recoveryAndForce).toMatchObject({ code: 'InvalidParameterException', status: 400 });
    expect(out.badNextToken).toEqual({
      code: 'InvalidNextTokenException',
      message: 'The NextToken value is not valid.',
      status: 400,
    });
    expect(out.batchBoth).toMatchObject({ code: 'InvalidParameterException', status: 400 });
    expect(out.validateResourcePolicy).toMatchObject({ code: 'UnknownOperationException', status: 400 });
    // botocore finds a message in every error body.
    const { batchPerSecret, ...errors } = out;
    for (const error of Object.values(errors)) {
      expect(error.message.length).toBeGreaterThan(0);
    }
    expect(batchPerSecret).toEqual([
      expect.objectContaining({ SecretId: `${p}/missing`, ErrorCode: 'ResourceNotFoundException' }),
    ]);
  }, 180_000);

  it('keeps secrets regional: one name in two regions, listed and addressed per region', async () => {
    const p = prefix('rg');
    const out = await boto3<{
      arns: string[];
      values: string[];
      listed: string[][];
      crossRegionArn: BotoError | null;
    }>('regions', p);
    expect(out.arns[0]).toMatch(new RegExp(`^arn:aws:secretsmanager:${REGION}:`));
    expect(out.arns[1]).toMatch(new RegExp(`^arn:aws:secretsmanager:${OTHER_REGION}:`));
    expect(out.values).toEqual(['home', 'other']);
    expect(out.listed).toEqual([[`${p}/dup`], [`${p}/dup`]]);
    expect(out.crossRegionArn).toEqual({
      code: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
      status: 400,
    });
  });

  it('replicates as AWS does: InSync replica, new versions reach it, AWS refusals, StopReplicationToReplica', async () => {
    const p = prefix('rp');
    const out = await boto3<{
      createdReplicationStatus: string[];
      replicaValue: string;
      replicaPrimaryRegion: string;
      replicaArn: string;
      primaryArn: string;
      primaryRegionFilter: string[];
      refusals: { writeAtReplica: BotoError; deletePrimary: BotoError };
      promotedArn: string;
      primaryReplicationAfterPromotion: unknown[];
      writtenAfterPromotion: boolean;
      primaryValueAfterPromotion: string;
    }>('replication', p);
    expect(out.createdReplicationStatus).toEqual([OTHER_REGION]);
    expect(out.replicaValue).toBe('v2');
    expect(out.replicaPrimaryRegion).toBe(REGION);
    // Same name and suffix, the replica's region.
    expect(out.replicaArn).toBe(out.primaryArn.replace(`:${REGION}:`, `:${OTHER_REGION}:`));
    expect(out.primaryRegionFilter).toEqual([`${p}/replicated`]);
    // moto's OperationNotPermittedOnReplica, an InvalidParameterException.
    expect(out.refusals.writeAtReplica).toEqual({
      code: 'InvalidParameterException',
      message: "Operation not permitted on a replica secret. Call must be made in primary secret's region.",
      status: 400,
    });
    expect(out.refusals.deletePrimary.code).toBe('InvalidParameterException');
    expect(out.refusals.deletePrimary.message).toMatch(/^You can't delete secret .* that still has replica regions/);
    expect(out.promotedArn).toBe(out.replicaArn);
    expect(out.primaryReplicationAfterPromotion).toEqual([]);
    expect(out.writtenAfterPromotion).toBe(true);
    expect(out.primaryValueAfterPromotion).toBe('v2');
  });
});
