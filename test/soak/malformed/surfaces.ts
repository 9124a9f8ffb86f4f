import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Fixture } from './fixture.ts';
import { CONTENT_TYPES, encodeName, HOSTILE_NAMES, hugeBody, type Json, mutateJson, mutatePath } from './mutate.ts';
import type { Rng } from './prng.ts';

/** One request as sent: node:http takes the path and headers as given (no normalisation, no re-encoding). */
export interface MalformedRequest {
  readonly target: 'server' | 'extension';
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer | undefined;
  /** The mutations that made it, for the failure report. */
  readonly how: string;
}

export interface Surface {
  readonly name: string;
  build(rng: Rng, fx: Fixture): Promise<MalformedRequest>;
}

const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'get'];

/** Header twists any surface may get: Host (DNS rebinding check), duplicated or hostile values, odd encodings. */
function headerTwist(rng: Rng, headers: Record<string, string>): string {
  switch (rng.int(10)) {
    case 0:
      headers.host = rng.pick([
        'evil.example',
        'localhost:1',
        '127.0.0.1.nip.io',
        '',
        '[::1]',
        '0x7f000001',
        'a'.repeat(300),
      ]);
      return 'host';
    case 1:
      headers['x-coffer-region'] = rng.pick([
        '',
        'us-east-1',
        'xx-nowhere-9',
        '../',
        'us-east-1\u00e9'.normalize('NFC').replace('é', 'e'),
        'a'.repeat(200),
      ]);
      return 'region';
    case 2:
      headers['x-coffer-wrap-ttl'] = rng.pick(['', '-1', '1e9', '0', '30x', '99999999999999999999', 'NaN']);
      return 'wrap-ttl';
    case 3:
      headers['x-forwarded-for'] = rng.pick(['', 'not-an-ip', '1.2.3.4, 5.6.7.8', '::ffff:127.0.0.1', '999.1.1.1']);
      return 'xff';
    case 4:
      headers['accept-encoding'] = rng.pick(['gzip', 'br;q=2', '*', 'identity;q=0']);
      return 'accept-encoding';
    case 5:
      headers['x-request-id'] = rng.pick(['', 'a'.repeat(5000), '../../etc/passwd', '\u00ff']);
      return 'request-id';
    case 6:
      headers.expect = '100-continue';
      return 'expect';
    case 7:
      headers['x-coffer-token'] = rng.pick(['', ' ', 'cft_', 'cft_AAAA', 'Bearer x', 'a'.repeat(8000), '\u00ff\u00fe']);
      return 'bad-token';
    case 8:
      headers.authorization = rng.pick([
        'Bearer',
        'Bearer ',
        'Basic Og==',
        'AWS4-HMAC-SHA256',
        'Negotiate x',
        'a'.repeat(8000),
      ]);
      return 'authorization';
    default:
      headers['content-encoding'] = rng.pick(['gzip', 'deflate', 'identity', 'br']);
      return 'content-encoding';
  }
}

/** A mutated body for `valid`, with a mutated content type, and now and then one over the size cap. */
function body(rng: Rng, valid: Json, headers: Record<string, string>): { body: Buffer; how: string } {
  if (rng.chance(0.002)) {
    headers['content-type'] = 'application/json';
    return { body: hugeBody(rng), how: 'huge' };
  }
  const m = mutateJson(rng, valid);
  const contentType = rng.chance(0.8) ? 'application/json' : rng.pick(CONTENT_TYPES);
  if (contentType !== undefined) headers['content-type'] = contentType;
  return { body: m.body, how: m.how };
}

/** Valid native API requests under the fuzz identity; each is the seed of its mutations. */
const NATIVE_SEEDS: ReadonlyArray<{ method: string; path: string; body?: Json }> = [
  { method: 'PUT', path: '/v1/secret/data/fuzz/a', body: { value: 'v', metadata: { k: 'v' } } },
  { method: 'PUT', path: '/v1/secret/data/fuzz/new', body: { binary: 'eA==' } },
  { method: 'PUT', path: '/v1/secret/data/fuzz/b', body: { value: 'v', cas: 1 } },
  { method: 'GET', path: '/v1/secret/data/fuzz/a' },
  { method: 'GET', path: '/v1/secret/data/fuzz/a?stage=AWSCURRENT' },
  { method: 'GET', path: '/v1/secret/data/canary/db' },
  { method: 'GET', path: '/v1/secret/metadata/fuzz/a' },
  { method: 'PUT', path: '/v1/secret/metadata/fuzz/a', body: { description: 'd', tags: { k: 'v' } } },
  { method: 'DELETE', path: '/v1/secret/metadata/fuzz/b?recoveryWindowDays=7' },
  { method: 'POST', path: '/v1/secret/restore/fuzz/b' },
  { method: 'GET', path: '/v1/secret/versions/fuzz/a' },
  { method: 'PUT', path: '/v1/secret/stages/fuzz/a', body: { stage: 'AWSPREVIOUS', moveToVersionId: 'x' } },
  { method: 'GET', path: '/v1/secret/list/fuzz/' },
  { method: 'GET', path: '/v1/secrets?prefix=fuzz/&limit=5' },
  { method: 'POST', path: '/v1/auth/token/create', body: { policies: ['fuzz'], ttl: '1h', meta: { a: 'b' } } },
  { method: 'GET', path: '/v1/auth/token/lookup-self' },
  { method: 'POST', path: '/v1/auth/token/lookup', body: { token: 'cft_x' } },
  { method: 'POST', path: '/v1/auth/token/renew-self', body: { increment: '1h' } },
  { method: 'POST', path: '/v1/sys/policy-test', body: { path: 'secrets/fuzz/a', capability: 'read' } },
  { method: 'PUT', path: '/v1/sys/policies/fuzz', body: { rules: [{ path: 'secrets/*', capabilities: ['sudo'] }] } },
  { method: 'GET', path: '/v1/sys/audit/tail?lines=5' },
  { method: 'POST', path: '/v1/sys/wrapping/unwrap', body: { token: 'cft_x' } },
  { method: 'POST', path: '/v1/sys/leases/lookup', body: { lease_id: 'x' } },
  { method: 'POST', path: '/v1/rotation/rotate', body: { name: 'fuzz/a' } },
  { method: 'GET', path: '/v1/sys/health' },
];

export const NATIVE: Surface = {
  name: 'native',
  async build(rng, fx) {
    const seed = rng.pick(NATIVE_SEEDS);
    const headers: Record<string, string> = {};
    const how: string[] = [];
    if (rng.chance(0.9)) headers['x-coffer-token'] = fx.fuzzToken;
    let method = seed.method;
    let urlPath = seed.path;
    let payload: Buffer | undefined;
    const roll = rng.float();
    if (roll < 0.45 && seed.body !== undefined) {
      const b = body(rng, seed.body, headers);
      payload = b.body;
      how.push(`body:${b.how}`);
    } else if (roll < 0.75) {
      urlPath = mutatePath(rng, seed.path);
      how.push('path');
      if (seed.body !== undefined) payload = Buffer.from(JSON.stringify(seed.body));
    } else if (roll < 0.85) {
      method = rng.pick(METHODS);
      how.push('method');
      if (rng.chance(0.5)) payload = mutateJson(rng, seed.body ?? {}).body;
    } else {
      how.push(`header:${headerTwist(rng, headers)}`);
      if (seed.body !== undefined) payload = Buffer.from(JSON.stringify(seed.body));
    }
    if (payload !== undefined && headers['content-type'] === undefined && rng.chance(0.9)) {
      headers['content-type'] = 'application/json';
    }
    return { target: 'server', method, path: urlPath, headers, body: payload, how: how.join(',') };
  },
};

/** One valid body per Secrets Manager operation, naming the fuzz secrets (the canary is out of the key's reach). */
const SM_SEEDS: Readonly<Record<string, Json>> = {
  CreateSecret: { Name: 'fuzz/sm-new', SecretString: 's', Description: 'd', Tags: [{ Key: 'k', Value: 'v' }] },
  GetSecretValue: { SecretId: 'fuzz/a', VersionStage: 'AWSCURRENT' },
  BatchGetSecretValue: { SecretIdList: ['fuzz/a', 'fuzz/b', 'canary/db'] },
  PutSecretValue: { SecretId: 'fuzz/a', SecretString: 'v2', ClientRequestToken: '0123456789abcdef0123456789abcdef' },
  UpdateSecret: { SecretId: 'fuzz/a', Description: 'x' },
  UpdateSecretVersionStage: { SecretId: 'fuzz/a', VersionStage: 'X', MoveToVersionId: 'v' },
  DescribeSecret: { SecretId: 'fuzz/a' },
  ListSecrets: { MaxResults: 10, Filters: [{ Key: 'name', Values: ['fuzz'] }], SortOrder: 'asc' },
  ListSecretVersionIds: { SecretId: 'fuzz/a', IncludeDeprecated: true },
  DeleteSecret: { SecretId: 'fuzz/sm-new', RecoveryWindowInDays: 7 },
  RestoreSecret: { SecretId: 'fuzz/sm-new' },
  RotateSecret: { SecretId: 'fuzz/a', RotateImmediately: false },
  CancelRotateSecret: { SecretId: 'fuzz/a' },
  TagResource: { SecretId: 'fuzz/a', Tags: [{ Key: 'k', Value: 'v' }] },
  UntagResource: { SecretId: 'fuzz/a', TagKeys: ['k'] },
  GetRandomPassword: { PasswordLength: 32, ExcludePunctuation: true },
  GetResourcePolicy: { SecretId: 'fuzz/a' },
  PutResourcePolicy: { SecretId: 'fuzz/a', ResourcePolicy: '{"Version":"2012-10-17","Statement":[]}' },
  DeleteResourcePolicy: { SecretId: 'fuzz/a' },
  ValidateResourcePolicy: { ResourcePolicy: '{}' },
  StopReplicationToReplica: { SecretId: 'fuzz/a' },
  ReplicateSecretToRegions: { SecretId: 'fuzz/a', AddReplicaRegions: [{ Region: 'eu-west-1' }] },
  RemoveRegionsFromReplication: { SecretId: 'fuzz/a', RemoveReplicaRegions: ['eu-west-1'] },
};
const SM_OPS = Object.keys(SM_SEEDS);

async function signSm(
  fx: Fixture,
  target: string,
  payload: Buffer,
  contentType: string,
  options: { region?: string; service?: string; date?: Date; secret?: string } = {},
): Promise<Record<string, string>> {
  const request = new HttpRequest({
    method: 'POST',
    protocol: 'http:',
    hostname: fx.serverUrl.hostname,
    port: Number(fx.serverUrl.port),
    path: '/',
    headers: { host: fx.serverUrl.host, 'content-type': contentType, 'x-amz-target': target },
    body: payload,
  });
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: fx.accessKey.accessKeyId,
      secretAccessKey: options.secret ?? fx.accessKey.secretAccessKey,
    },
    region: options.region ?? 'us-east-1',
    service: options.service ?? 'secretsmanager',
    sha256: Sha256,
  });
  const signed = await signer.sign(request, options.date === undefined ? {} : { signingDate: options.date });
  return signed.headers as Record<string, string>;
}

/** Tampers with a signed request's Authorization header in one of the ways a forger or a broken client would. */
function garble(rng: Rng, headers: Record<string, string>): string {
  const auth = headers.authorization ?? '';
  switch (rng.int(8)) {
    case 0:
      delete headers.authorization;
      return 'no-auth';
    case 1:
      headers.authorization = auth.replace(/Signature=[0-9a-f]+/, `Signature=${'0'.repeat(64)}`);
      return 'bad-signature';
    case 2:
      headers.authorization = auth.replace(
        /Credential=[^/]+/,
        `Credential=${rng.pick(['AKIAFAKE', '', 'a'.repeat(300), '..'])}`,
      );
      return 'bad-key-id';
    case 3:
      headers.authorization = auth.replace(
        /SignedHeaders=[^,]+/,
        rng.pick(['SignedHeaders=', 'SignedHeaders=host', 'SignedHeaders=;;;']),
      );
      return 'signed-headers';
    case 4:
      headers.authorization = auth.slice(0, rng.int(auth.length + 1));
      return 'truncated-auth';
    case 5:
      headers.authorization = auth.replace(
        'AWS4-HMAC-SHA256',
        rng.pick(['AWS4-HMAC-SHA512', 'AWS3', 'aws4-hmac-sha256']),
      );
      return 'algorithm';
    case 6:
      headers['x-amz-date'] = rng.pick([
        '',
        '20261207T000000',
        'yesterday',
        '99991231T235959Z',
        '19700101T000000Z',
        '20261307T250000Z',
      ]);
      return 'bad-date';
    default:
      headers.authorization = `${auth}, Signature=${'f'.repeat(64)}`;
      return 'double-signature';
  }
}

export const SECRETS_MANAGER: Surface = {
  name: 'secretsmanager',
  async build(rng, fx) {
    const op = rng.chance(0.03)
      ? rng.pick(['', 'Nope', 'getSecretValue', 'GetSecretValue ', '__proto__', 'a'.repeat(300)])
      : rng.pick(SM_OPS);
    const target = rng.chance(0.03)
      ? rng.pick(['secretsmanager', `kms.${op}`, `SecretsManager.${op}`, `secretsmanager.${op}.x`, `${op}`])
      : `secretsmanager.${op}`;
    const m = mutateJson(rng, SM_SEEDS[op] ?? {});
    let payload = m.body;
    const how = [`op:${op}`, `body:${m.how}`];
    const contentType = rng.chance(0.9)
      ? 'application/x-amz-json-1.1'
      : (rng.pick(CONTENT_TYPES) ?? 'application/json');
    if (rng.chance(0.002)) {
      payload = hugeBody(rng);
      how.push('huge');
    }
    let headers: Record<string, string>;
    const roll = rng.float();
    if (roll < 0.6) {
      headers = await signSm(fx, target, payload, contentType);
    } else if (roll < 0.8) {
      headers = await signSm(fx, target, payload, contentType);
      how.push(garble(rng, headers));
    } else if (roll < 0.88) {
      const skew = rng.pick([-86_400_000, -16 * 60_000, 16 * 60_000, 3_600_000 * 24 * 365, -3_600_000 * 24 * 365 * 30]);
      const region = rng.pick(['us-east-1', 'eu-west-1', 'xx-fake-1', '', 'us-east-1/../']);
      const service = rng.pick(['secretsmanager', 'sts', 'execute-api', '']);
      headers = await signSm(fx, target, payload, contentType, {
        date: new Date(Date.now() + (rng.chance(0.5) ? skew : 0)),
        region,
        service,
        ...(rng.chance(0.3) ? { secret: 'wrong-secret' } : {}),
      });
      how.push(`scope:${region}/${service}`);
    } else if (roll < 0.95) {
      headers = { 'content-type': contentType, 'x-amz-target': target, 'x-coffer-token': fx.fuzzToken };
      how.push('token');
    } else {
      headers = { 'content-type': contentType, 'x-amz-target': target };
      how.push(`header:${headerTwist(rng, headers)}`);
    }
    // Signed after mutation, then the body sometimes changes under the signature (a replay with a new body).
    if (rng.chance(0.03)) {
      payload = Buffer.concat([payload, Buffer.from(' ')]);
      how.push('body-after-signing');
    }
    return {
      target: 'server',
      method: rng.chance(0.97) ? 'POST' : rng.pick(METHODS),
      path: rng.chance(0.97) ? '/' : rng.pick(['/?x=1', '//', '/%2e', '/v1/', '/..']),
      headers,
      body: payload,
      how: how.join(','),
    };
  },
};

/** The login mounts the fixture enabled, with a valid body each (the AppRole one carries the canary secret id). */
function loginSeeds(fx: Fixture): Array<{ mount: string; body: Json }> {
  return [
    { mount: 'approle', body: { role_id: fx.roleId, secret_id: fx.canaries.secretId! } },
    { mount: 'approle', body: { role_id: fx.roleId } },
    { mount: 'jwt', body: { role: 'ci', jwt: fx.validJwt } },
    { mount: 'kubernetes', body: { role: 'app', jwt: fx.validK8sJwt } },
    { mount: 'cert', body: { name: 'web' } },
    { mount: 'cert', body: {} },
  ];
}

/** A JWT with one part broken: header, claims, signature, or the structure itself. */
function mutateJwt(rng: Rng, jwt: string): string {
  const [h, p, s] = jwt.split('.') as [string, string, string];
  const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  switch (rng.int(8)) {
    case 0:
      return `${encode({ alg: rng.pick(['none', 'HS256', 'RS256', '', 'ES256K']), typ: 'JWT' })}.${p}.${s}`;
    case 1: {
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
      const key = rng.pick(['exp', 'iat', 'nbf', 'aud', 'iss', 'sub', 'kubernetes.io']);
      claims[key] = rng.pick<unknown>([null, -1, Number.MAX_VALUE, 'x', [], {}, 2 ** 53, HOSTILE_NAMES[4]]);
      return `${h}.${encode(claims)}.${s}`;
    }
    case 2:
      return `${h}.${p}.${s.slice(0, rng.int(s.length))}`;
    case 3:
      return rng.pick(['', '.', '..', '...', 'a.b.c', `${h}.${p}`, `${h}..${s}`, `${h}.${p}.${s}.${s}`]);
    case 4:
      return `${h}.${p}.${Buffer.from(rng.text(40)).toString('base64')}`;
    case 5:
      return `${Buffer.from('{"alg":"ES256"').toString('base64url')}.${p}.${s}`;
    case 6:
      return `${h}.${Buffer.from([0xff, 0xfe, 0x00]).toString('base64url')}.${s}`;
    default:
      return `${h}.${encode({ a: { b: { c: 'x'.repeat(20_000) } } })}.${s}`;
  }
}

export const LOGINS: Surface = {
  name: 'logins',
  async build(rng, fx) {
    const seed = rng.pick(loginSeeds(fx));
    const headers: Record<string, string> = {};
    let mount = seed.mount;
    const how: string[] = [`mount:${mount}`];
    let json: Json = seed.body;
    if (typeof (seed.body as { jwt?: unknown }).jwt === 'string' && rng.chance(0.35)) {
      json = { ...(seed.body as Record<string, Json>), jwt: mutateJwt(rng, (seed.body as { jwt: string }).jwt) };
      how.push('jwt');
    }
    const b = body(rng, json, headers);
    how.push(`body:${b.how}`);
    if (rng.chance(0.05)) {
      mount = rng.pick([
        '',
        'APPROLE',
        'approle/',
        'token',
        'nope',
        '..',
        '%2e%2e',
        encodeName('\ud800'),
        'a'.repeat(200),
      ]);
      how.push('mount');
    }
    if (rng.chance(0.05)) how.push(`header:${headerTwist(rng, headers)}`);
    const urlPath = rng.chance(0.05) ? mutatePath(rng, `/v1/auth/${mount}/login`) : `/v1/auth/${mount}/login`;
    const method = rng.chance(0.03) ? rng.pick(METHODS) : 'POST';
    return { target: 'server', method, path: urlPath, headers, body: b.body, how: how.join(',') };
  },
};

const EXT_IDS = ['fuzz/a', 'fuzz/b', 'fuzz/deep/c', 'fuzz/missing', 'canary/db', ...HOSTILE_NAMES];

export const EXTENSION: Surface = {
  name: 'extension',
  async build(rng, fx) {
    const headers: Record<string, string> = {};
    const how: string[] = [];
    const tokenRoll = rng.float();
    if (tokenRoll < 0.85) headers['x-aws-parameters-secrets-token'] = fx.sessionToken;
    else if (tokenRoll < 0.95) {
      headers['x-aws-parameters-secrets-token'] = rng.pick([
        '',
        fx.sessionToken.slice(0, -1),
        `${fx.sessionToken}x`,
        fx.sessionToken.toUpperCase(),
        'a'.repeat(5000),
      ]);
      how.push('bad-token');
    } else how.push('no-token');
    const params: string[] = [`secretId=${encodeName(rng.pick(EXT_IDS))}`];
    if (rng.chance(0.3))
      params.push(
        `versionStage=${encodeName(rng.pick(['AWSCURRENT', 'AWSPREVIOUS', '', 'x'.repeat(300), ...HOSTILE_NAMES]))}`,
      );
    if (rng.chance(0.2))
      params.push(
        `versionId=${encodeName(rng.pick(['', 'x'.repeat(65), '00000000-0000-0000-0000-000000000000', ...HOSTILE_NAMES]))}`,
      );
    if (rng.chance(0.1)) params.push(`refreshNow=${rng.pick(['true', 'false', 'TRUE', '1', ''])}`);
    if (rng.chance(0.1))
      params.push(rng.pick(['secretId=fuzz/b', 'unknown=1', 'secretId', '=', '&&', '__proto__=x', 'constructor=1']));
    let urlPath = `/secretsmanager/get?${params.join('&')}`;
    how.push(`q:${params.length}`);
    if (rng.chance(0.3)) {
      urlPath = mutatePath(rng, urlPath);
      how.push('path');
    }
    if (rng.chance(0.05)) {
      urlPath = rng.pick([
        '/',
        '/secretsmanager',
        '/secretsmanager/get/',
        '/systemsmanager/parameters/get?name=x',
        '/secretsmanager/../secretsmanager/get?secretId=fuzz/a',
        '*',
      ]);
      how.push('route');
    }
    let method = 'GET';
    let payload: Buffer | undefined;
    if (rng.chance(0.05)) {
      method = rng.pick(METHODS);
      payload = mutateJson(rng, { secretId: 'fuzz/a' }).body;
      how.push('method');
    }
    if (rng.chance(0.1)) {
      const twist = headerTwist(rng, headers);
      how.push(`header:${twist}`);
    }
    return { target: 'extension', method, path: urlPath, headers, body: payload, how: how.join(',') };
  },
};

export const SURFACES: readonly Surface[] = [NATIVE, SECRETS_MANAGER, LOGINS, EXTENSION];
