import { describe, expect, it } from 'vitest';
import { memoryNode, request } from '../../support/memory-node.ts';

type Json = Record<string, unknown>;

async function setup() {
  const node = await memoryNode();
  const send = async (
    method: string,
    path: string,
    options: { body?: unknown; region?: string; token?: string; target?: string } = {},
  ) => {
    const req = request(method, path, { token: options.token ?? node.rootToken, body: options.body });
    const headers: Record<string, string> = { ...req.headers };
    if (options.region !== undefined) headers['x-coffer-region'] = options.region;
    if (options.target !== undefined) {
      headers['x-amz-target'] = `secretsmanager.${options.target}`;
      headers['content-type'] = 'application/x-amz-json-1.1';
    }
    const res = await node.broker.handle({ ...req, headers });
    return { status: res.status, body: JSON.parse(res.body || '{}') as Json };
  };
  const sm = (target: string, body: unknown, region?: string, token?: string) =>
    send('POST', '/v1/aws/secretsmanager', {
      body,
      target,
      ...(region === undefined ? {} : { region }),
      ...(token === undefined ? {} : { token }),
    });
  return { node, send, sm };
}

describe('Broker: the region of a request', () => {
  it('acts in X-Coffer-Region on the native API, else in the home region', async () => {
    const { send } = await setup();
    const west = await send('POST', '/v1/secrets', { body: { name: 'dup', value: 'west' }, region: 'us-west-2' });
    expect(west.status).toBe(201);
    expect(west.body.arn).toMatch(/^arn:aws:secretsmanager:us-west-2:/);
    const home = await send('POST', '/v1/secrets', { body: { name: 'dup', value: 'home' } });
    expect(home.status).toBe(201);
    expect(home.body.arn).toMatch(/^arn:aws:secretsmanager:us-east-1:/);
    expect((await send('GET', '/v1/secret/data/dup', { region: 'us-west-2' })).body.value).toBe('west');
    expect((await send('GET', '/v1/secret/data/dup')).body.value).toBe('home');
    expect((await send('GET', '/v1/secret/list', { region: 'eu-west-1' })).body.entries).toEqual([]);
    expect((await send('GET', '/v1/secret/list', { region: 'us-west-2' })).body.entries).toEqual([
      { name: 'dup', arn: west.body.arn, kind: 'secret' },
    ]);
  });

  it('acts in X-Coffer-Region under /v1/aws/secretsmanager, and lists that region only', async () => {
    const { sm } = await setup();
    expect((await sm('CreateSecret', { Name: 'a', SecretString: 'x' }, 'eu-west-1')).status).toBe(200);
    expect((await sm('CreateSecret', { Name: 'a', SecretString: 'y' }, 'ap-southeast-2')).status).toBe(200);
    const listed = await sm('ListSecrets', {}, 'eu-west-1');
    expect((listed.body.SecretList as Json[]).map((s) => s.ARN)).toEqual([
      expect.stringMatching(/^arn:aws:secretsmanager:eu-west-1:000000000000:secret:a-/),
    ]);
  });

  it('refuses a region that is not a region name before touching anything', async () => {
    const { send } = await setup();
    const bad = await send('GET', '/v1/secret/data/x', { region: 'Mars-1' });
    expect(bad.status).toBe(400);
    expect((bad.body.error as Json).message).toMatch(/region must be an AWS region name/);
  });

  it('refuses RotateSecret outside the home region rather than rotating the home secret of that name', async () => {
    const { sm } = await setup();
    await sm('CreateSecret', { Name: 'r', SecretString: 'x' }, 'us-west-2');
    const refused = await sm('RotateSecret', { SecretId: 'r' }, 'us-west-2');
    expect(refused.body).toEqual({
      __type: 'InvalidRequestException',
      message: "RotateSecret is available only in this node's home region (us-east-1), not in us-west-2.",
    });
  });

  it('applies a policy regions condition to the request region', async () => {
    const { node, send } = await setup();
    await node.deps.policies.put({
      name: 'eu-only',
      rules: [{ path: 'secrets/*', capabilities: ['create', 'read'], conditions: { regions: ['eu-west-1'] } }],
    });
    const root = await node.deps.tokens.lookup({ token: node.rootToken });
    const { token } = await node.deps.tokens.create(root, { policies: ['eu-only'] });
    const inEu = await send('POST', '/v1/secrets', { body: { name: 'p', value: 'v' }, region: 'eu-west-1', token });
    expect(inEu.status).toBe(201);
    const inUs = await send('POST', '/v1/secrets', { body: { name: 'p', value: 'v' }, region: 'us-west-2', token });
    expect(inUs.status).toBe(403);
    expect(JSON.stringify(inUs.body)).toContain("this request's region us-west-2 is none of them");
    expect((await send('GET', '/v1/secret/data/p', { token })).status).toBe(403);
  });

  it('needs create in each replica region: a policy limited to one region cannot replicate out of it', async () => {
    const { node, sm, send } = await setup();
    await node.deps.policies.put({
      name: 'east-only',
      rules: [
        { path: 'secrets/*', capabilities: ['create', 'read', 'update'], conditions: { regions: ['us-east-1'] } },
      ],
    });
    const root = await node.deps.tokens.lookup({ token: node.rootToken });
    const { token } = await node.deps.tokens.create(root, { policies: ['east-only'] });
    const create = await sm(
      'CreateSecret',
      { Name: 'kept', SecretString: 'v', AddReplicaRegions: [{ Region: 'eu-west-1' }] },
      undefined,
      token,
    );
    expect(create.body.__type).toBe('AccessDeniedException');
    // Refused before the primary was created.
    expect((await send('GET', '/v1/secret/data/kept')).status).toBe(404);
    expect((await sm('CreateSecret', { Name: 'kept', SecretString: 'v' }, undefined, token)).status).toBe(200);
    const replicate = await sm(
      'ReplicateSecretToRegions',
      { SecretId: 'kept', AddReplicaRegions: [{ Region: 'eu-west-1' }] },
      undefined,
      token,
    );
    expect(replicate.body.__type).toBe('AccessDeniedException');
    const native = await send('POST', '/v1/secret/replicate/kept', {
      body: { regions: [{ region: 'eu-west-1' }] },
      token,
    });
    expect(native.status).toBe(403);
    expect((await sm('DescribeSecret', { SecretId: 'kept' })).body.ReplicationStatus).toBeUndefined();
  });

  it("checks CreateSecret's replica regions before creating the primary", async () => {
    const { sm, send } = await setup();
    const refused = await sm('CreateSecret', {
      Name: 'self',
      SecretString: 'v',
      AddReplicaRegions: [{ Region: 'us-east-1' }],
    });
    expect(refused.body).toEqual({ __type: 'InvalidParameterException', message: 'Invalid replica region.' });
    expect((await send('GET', '/v1/secret/data/self')).status).toBe(404);
  });

  it('refuses RotateSecret and CancelRotateSecret on a replica, as AWS does', async () => {
    const { node, sm } = await setup();
    await sm('CreateSecret', { Name: 'rep', SecretString: 'v' }, 'us-west-2');
    await sm(
      'ReplicateSecretToRegions',
      { SecretId: 'rep', AddReplicaRegions: [{ Region: 'us-east-1' }] },
      'us-west-2',
    );
    await node.replicator.replicate('us-west-2', 'rep');
    const message = "Operation not permitted on a replica secret. Call must be made in primary secret's region.";
    for (const target of ['RotateSecret', 'CancelRotateSecret']) {
      expect((await sm(target, { SecretId: 'rep' })).body).toEqual({ __type: 'InvalidParameterException', message });
    }
  });
});
