import http from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, runCli } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';

/**
 * Hostile input against the Secrets Manager–compatible API of a real server: malformed JSON 1.1 requests and
 * tampered signatures. The server must answer each with a 4xx in AWS's error shape, never a 5xx, never crash, and
 * never hand the private canary to a caller not allowed to read it.
 */
const current = useServer();
const CANARY = 'fuzz-canary-4f1d0c6e2b9a';
const OPS = [
  'CreateSecret',
  'GetSecretValue',
  'BatchGetSecretValue',
  'PutSecretValue',
  'UpdateSecret',
  'UpdateSecretVersionStage',
  'DescribeSecret',
  'ListSecrets',
  'ListSecretVersionIds',
  'DeleteSecret',
  'RestoreSecret',
  'RotateSecret',
  'CancelRotateSecret',
  'TagResource',
  'UntagResource',
  'GetRandomPassword',
  'GetResourcePolicy',
  'PutResourcePolicy',
  'DeleteResourcePolicy',
];
let privateArn = '';
let restricted: { accessKeyId: string; secretAccessKey: string };
let admin: { accessKeyId: string; secretAccessKey: string };

async function createKey(principal: string, policy: string, rules: unknown[]) {
  const { address, rootToken } = current();
  await api(address, rootToken, 'PUT', `/v1/sys/policies/${policy}`, { rules });
  const created = await runCli(['access-key', 'create', '--principal', principal, '--policy', policy, '-o', 'json'], {
    env: { COFFER_ADDR: address, COFFER_TOKEN: rootToken },
  });
  return JSON.parse(created.stdout) as { accessKeyId: string; secretAccessKey: string };
}

async function sign(
  credentials: { accessKeyId: string; secretAccessKey: string },
  target: string,
  body: string,
  contentType = 'application/x-amz-json-1.1',
  options: { service?: string; region?: string } = {},
): Promise<Record<string, string>> {
  const url = new URL(current().address);
  const request = new HttpRequest({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    headers: { host: url.host, 'content-type': contentType, 'x-amz-target': target },
    body,
  });
  const signer = new SignatureV4({
    credentials,
    region: options.region ?? 'us-east-1',
    service: options.service ?? 'secretsmanager',
    sha256: Sha256,
  });
  return (await signer.sign(request)).headers as Record<string, string>;
}

/** node:http rather than fetch: fetch drops a `host` header it is given, and tampering with it is one of the cases. */
function post(headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  const url = new URL(current().address);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method: 'POST', path: '/', headers, setHost: headers.host === undefined },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  admin = await createKey('fuzz-admin', 'fuzz-admin', [
    { path: 'secrets/*', capabilities: ['create', 'read', 'update', 'delete', 'list', 'rotate', 'sudo'] },
  ]);
  restricted = await createKey('fuzz-public', 'fuzz-public', [
    { path: 'secrets/fuzz/public/*', capabilities: ['create', 'read', 'update', 'delete', 'list'] },
  ]);
  const created = await post(
    await sign(admin, 'secretsmanager.CreateSecret', JSON.stringify({ Name: 'fuzz/private/db', SecretString: CANARY })),
    JSON.stringify({ Name: 'fuzz/private/db', SecretString: CANARY }),
  );
  expect(created.status).toBe(200);
  privateArn = (JSON.parse(created.text) as { ARN: string }).ARN;
});

describe('Secrets Manager API under hostile input', () => {
  it('answers 10,000 malformed JSON 1.1 requests with AWS 4xx errors, and never leaks a secret it must not', async () => {
    const secretIds = fc.constantFrom(
      'fuzz/private/db',
      'fuzz/public/../private/db',
      'fuzz/public/%2e%2e/private/db',
      'FUZZ/PRIVATE/DB',
      'fuzz/private/db/',
      'fuzz//private/db',
      'fuzz/public/x',
      '*',
      'arn:aws:secretsmanager:us-east-1:000000000000:secret:fuzz/private/db',
      'arn:aws:secretsmanager:us-east-1:000000000000:secret:fuzz/private',
      '',
    );
    const member = fc.oneof(
      secretIds,
      fc.jsonValue({ maxDepth: 2 }),
      fc.string({ maxLength: 40 }),
      fc.integer(),
      fc.constant(null),
    );
    const body = fc.oneof(
      fc
        .record(
          {
            SecretId: member,
            Name: member,
            SecretString: member,
            SecretBinary: member,
            SecretIdList: fc.oneof(fc.array(secretIds, { maxLength: 25 }), member),
            Filters: fc.oneof(
              fc.array(
                fc.record({ Key: fc.constantFrom('name', 'all', 'tag-key', 'bogus'), Values: fc.array(member) }),
              ),
              member,
            ),
            VersionStage: member,
            VersionStages: member,
            MaxResults: member,
            NextToken: member,
            ClientRequestToken: member,
            ResourcePolicy: member,
            PasswordLength: member,
            Tags: member,
            __proto__: member,
          },
          { requiredKeys: [] },
        )
        .map((o) => JSON.stringify(o)),
      fc.string({ maxLength: 200 }),
      fc.json({ maxDepth: 4 }),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
      fc.constantFrom('', '{', '[', 'null', '[]', '"x"', '{"SecretId":', '{'.repeat(3000), '{"SecretId":"\ud800"}'),
    );
    const target = fc.oneof(
      fc.constantFrom(...OPS).map((op) => `secretsmanager.${op}`),
      fc.constantFrom(
        'secretsmanager.',
        'SecretsManager.GetSecretValue',
        'kms.Decrypt',
        'secretsmanager.__proto__',
        '',
      ),
      fc.string({ maxLength: 30 }),
    );
    const request = fc.record({
      target: fc.option(target, { nil: undefined }),
      body,
      contentType: fc.constantFrom('application/x-amz-json-1.1', 'application/json', 'text/plain', ''),
      // Signed by the restricted key (so the body is parsed and authorised), or a restricted token-less call.
      signed: fc.boolean(),
    });
    const samples = fc.sample(request, { numRuns: 10_000, seed: 20261129 });
    const failures: string[] = [];
    let leaks = 0;
    let next = 0;
    const worker = async () => {
      while (next < samples.length) {
        const s = samples[next++]!;
        let headers: Record<string, string>;
        if (s.signed && s.target !== undefined) {
          headers = await sign(restricted, s.target, s.body, s.contentType || 'application/x-amz-json-1.1');
          if (s.contentType === '') delete headers['content-type'];
        } else {
          headers = {};
          if (s.contentType !== '') headers['content-type'] = s.contentType;
          if (s.target !== undefined) headers['x-amz-target'] = s.target;
        }
        const res = await post(headers, s.body);
        if (res.status >= 500) failures.push(`${s.target} ${s.body.slice(0, 80)} -> ${res.status} ${res.text}`);
        else if (res.status >= 400 && !/"__type"/.test(res.text)) failures.push(`no __type: ${res.status} ${res.text}`);
        if (res.text.includes(CANARY)) leaks++;
      }
    };
    await Promise.all(Array.from({ length: 12 }, worker));
    expect(failures.slice(0, 5)).toEqual([]);
    expect(leaks).toBe(0);
    expect(samples.length).toBe(10_000);
    expect((await api(current().address, undefined, 'GET', '/v1/sys/health')).status).toBe(200);
  }, 600_000);

  it('refuses 1,000 tampered signatures with 403, and none of them reads the secret', async () => {
    const body = JSON.stringify({ SecretId: privateArn });
    const genuine = await sign(admin, 'secretsmanager.GetSecretValue', body);
    const good = await post(genuine, body);
    expect(good.text).toContain(CANARY);

    type Tamper = (h: Record<string, string>, b: string) => Promise<[Record<string, string>, string]>;
    const flip = (s: string, at: number) => {
      const i = at % s.length;
      const c = s[i] === 'a' ? 'b' : 'a';
      return s.slice(0, i) + c + s.slice(i + 1);
    };
    const tampers: fc.Arbitrary<Tamper> = fc.oneof(
      fc.nat().map(
        (at): Tamper =>
          async (h, b) => {
            const m = /Signature=([0-9a-f]{64})/.exec(h.authorization!)!;
            return [{ ...h, authorization: h.authorization!.replace(m[1]!, flip(m[1]!, at)) }, b];
          },
      ),
      fc.nat().map(
        (at): Tamper =>
          async (h, b) => [h, flip(b, at)],
      ),
      fc.constantFrom<Tamper>(
        async (h, b) => [{ ...h, 'x-amz-target': 'secretsmanager.DescribeSecret' }, b],
        async (h, b) => [{ ...h, 'x-amz-date': '20200101T000000Z' }, b],
        async (h, b) => [{ ...h, host: '127.0.0.2:1' }, b],
        async (h, b) => [{ ...h, 'content-type': 'application/json' }, b],
        async (h, b) => {
          const { 'x-amz-date': _, ...rest } = h;
          return [rest, b];
        },
        async (h, b) => [
          { ...h, authorization: h.authorization!.replace(admin.accessKeyId, restricted.accessKeyId) },
          b,
        ],
        async (h, b) => [{ ...h, authorization: h.authorization!.replace('/secretsmanager/', '/s3/') }, b],
        async (h, b) => [
          { ...h, authorization: h.authorization!.replace('SignedHeaders=', 'SignedHeaders=accept;') },
          b,
        ],
        async (h, b) => [{ ...h, authorization: h.authorization!.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA1') }, b],
        async (h, b) => [{ ...h, 'x-amz-security-token': 'session' }, b],
        async (_h, b) => [
          await sign({ ...admin, secretAccessKey: `${admin.secretAccessKey}x` }, 'secretsmanager.GetSecretValue', b),
          b,
        ],
        async (_h, b) => [await sign(admin, 'secretsmanager.GetSecretValue', b, undefined, { service: 's3' }), b],
      ),
    );
    const samples = fc.sample(tampers, { numRuns: 1_000, seed: 7 });
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < samples.length) {
        const index = next++;
        const [headers, tamperedBody] = await samples[index]!({ ...genuine }, body);
        const res = await post(headers, tamperedBody);
        if (res.text.includes(CANARY)) failures.push(`#${index} read the secret`);
        // A changed body that is no longer the signed one, or a changed header: 403; a body change that breaks the
        // JSON after a valid signature cannot happen, since the signature covers the body.
        if (res.status !== 403 && res.status !== 400) failures.push(`#${index} -> ${res.status} ${res.text}`);
        if (!/"__type"/.test(res.text)) failures.push(`#${index} no __type: ${res.text}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(failures.slice(0, 5)).toEqual([]);
  }, 300_000);
});
