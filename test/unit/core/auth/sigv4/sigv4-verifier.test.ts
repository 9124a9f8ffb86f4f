import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../../lambdas/adapters/memory/memory-store.ts';
import type { BrokerRequest } from '../../../../../lambdas/broker/http-types.ts';
import { AccessKeyService } from '../../../../../lambdas/core/auth/sigv4/access-key-service.ts';
import {
  SigV4Error,
  type SigV4ErrorCode,
  SigV4Verifier,
  type SigV4VerifierOptions,
} from '../../../../../lambdas/core/auth/sigv4/sigv4-verifier.ts';
import { UnauthenticatedError } from '../../../../../lambdas/core/errors.ts';
import type { Clock } from '../../../../../lambdas/core/ports/clock.ts';
import { FakeKeyProvider } from '../../../../support/fake-key-provider.ts';

const MINUTE = 60_000;

interface Captured {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A local stand-in for Secrets Manager: it records each raw request and answers `{}`. */
let server: http.Server;
let endpoint: string;
const captured: Captured[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      captured.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      });
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
});

/** Translates a captured request exactly as the local HTTP server does. */
function toBrokerRequest(raw: Captured): BrokerRequest {
  const q = raw.url.indexOf('?');
  const query: Record<string, string> = {};
  if (q !== -1) for (const [k, v] of new URLSearchParams(raw.url.slice(q + 1))) query[k] = v;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw.headers)) {
    if (typeof value === 'string') headers[name] = value;
    else if (Array.isArray(value)) headers[name] = value.join(', ');
  }
  return {
    method: raw.method,
    rawPath: q === -1 ? raw.url : raw.url.slice(0, q),
    query,
    headers,
    body: raw.body.length === 0 ? undefined : raw.body,
    sourceIp: '127.0.0.1',
  };
}

interface SdkCall {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  region?: string;
  path?: string;
  /** @default GetSecretValue of `prod/db/password` */
  send?: (client: SecretsManagerClient) => Promise<unknown>;
}

/** Sends one command with the real AWS SDK and returns the request as the broker would see it. */
async function sdkRequest(call: SdkCall): Promise<BrokerRequest> {
  const client = new SecretsManagerClient({
    region: call.region ?? 'eu-west-1',
    endpoint: `${endpoint}${call.path ?? ''}`,
    credentials: {
      accessKeyId: call.accessKeyId,
      secretAccessKey: call.secretAccessKey,
      ...(call.sessionToken === undefined ? {} : { sessionToken: call.sessionToken }),
    },
    maxAttempts: 1,
  });
  const before = captured.length;
  try {
    await (call.send ?? ((c) => c.send(new GetSecretValueCommand({ SecretId: 'prod/db/password' }))))(client);
  } catch {
    // `{}` is not a valid answer to every command; only the request matters here.
  } finally {
    client.destroy();
  }
  expect(captured.length).toBe(before + 1);
  return toBrokerRequest(captured[captured.length - 1]!);
}

function amzDateMs(request: BrokerRequest): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(request.headers['x-amz-date'] ?? '');
  if (m === null) throw new Error('request has no x-amz-date');
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

function formatAmzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

interface ManualSigning {
  accessKeyId: string;
  secret: string;
  date: Date;
  region?: string;
  service?: string;
  method?: string;
  path?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
  applyChecksum?: boolean;
  unsignableHeaders?: Set<string>;
  signableHeaders?: Set<string>;
}

/** Signs a request with the SDK's signer directly, for shapes the Secrets Manager client never sends. */
async function signManually(o: ManualSigning): Promise<BrokerRequest> {
  const signer = new SignatureV4({
    service: o.service ?? 'secretsmanager',
    region: o.region ?? 'eu-west-1',
    credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secret },
    sha256: Sha256,
    applyChecksum: o.applyChecksum ?? true,
  });
  const headers = { host: 'coffer.test:8200', 'content-type': 'application/x-amz-json-1.1', ...o.headers };
  const request = new HttpRequest({
    method: o.method ?? 'POST',
    protocol: 'https:',
    hostname: 'coffer.test',
    path: o.path ?? '/',
    query: o.query ?? {},
    headers,
    body: o.body ?? '{}',
  });
  const signed = await signer.sign(request, {
    signingDate: o.date,
    ...(o.unsignableHeaders === undefined ? {} : { unsignableHeaders: o.unsignableHeaders }),
    ...(o.signableHeaders === undefined ? {} : { signableHeaders: o.signableHeaders }),
  });
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) out[name.toLowerCase()] = value;
  return {
    method: o.method ?? 'POST',
    rawPath: o.path ?? '/',
    query: o.query ?? {},
    headers: out,
    body: Buffer.from(o.body ?? '{}'),
    sourceIp: '127.0.0.1',
  };
}

interface AuthParts {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

const AUTH_SHAPE =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/;

function authParts(request: BrokerRequest): AuthParts {
  const m = AUTH_SHAPE.exec(request.headers.authorization ?? '');
  if (m === null) throw new Error('unexpected Authorization header');
  return {
    accessKeyId: m[1]!,
    date: m[2]!,
    region: m[3]!,
    service: m[4]!,
    signedHeaders: m[5]!.split(';'),
    signature: m[6]!,
  };
}

function withAuth(request: BrokerRequest, change: Partial<AuthParts>): BrokerRequest {
  const p = { ...authParts(request), ...change };
  const authorization = `AWS4-HMAC-SHA256 Credential=${p.accessKeyId}/${p.date}/${p.region}/${p.service}/aws4_request, SignedHeaders=${p.signedHeaders.join(';')}, Signature=${p.signature}`;
  return withHeaders(request, { authorization });
}

function withHeaders(request: BrokerRequest, change: Record<string, string | undefined>): BrokerRequest {
  const headers: Record<string, string> = { ...request.headers };
  for (const [name, value] of Object.entries(change)) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  return { ...request, headers };
}

/** How SigV4 canonicalises a header value: values equal under it are the same to the signature. */
function canonicalValue(value: string): string {
  return value
    .replace(/[\r\n]/g, ' ')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');
}

async function refusal(promise: Promise<unknown>): Promise<SigV4Error> {
  const outcome = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(outcome instanceof SigV4Error)) {
    throw new Error(`expected a SigV4Error, got ${outcome === undefined ? 'success' : String(outcome)}`);
  }
  return outcome;
}

async function expectCode(promise: Promise<unknown>, code: SigV4ErrorCode, message?: RegExp): Promise<SigV4Error> {
  const error = await refusal(promise);
  expect(error.awsCode).toBe(code);
  if (message !== undefined) expect(error.message).toMatch(message);
  return error;
}

/** The regions the requests of these tests are signed for. */
const REGIONS = ['eu-west-1', 'ap-southeast-2', 'us-east-1'];

function setup(
  options: { maxSkewMs?: number; services?: string[]; regions?: string[]; hosts?: SigV4VerifierOptions['hosts'] } = {},
) {
  const store = new MemoryStore();
  let now = Date.now();
  const clock: Clock = { now: () => now };
  const accessKeys = new AccessKeyService({ store, keyProvider: new FakeKeyProvider(), clock });
  const lookups: string[] = [];
  const verifier = new SigV4Verifier({
    accessKeys: {
      secretFor: (id) => {
        lookups.push(id);
        return accessKeys.secretFor(id);
      },
    },
    clock,
    services: options.services ?? ['secretsmanager'],
    regions: options.regions ?? REGIONS,
    // `signManually` signs for coffer.test; the SDK's requests go to the loopback stand-in, accepted by default.
    hosts: options.hosts ?? { names: ['coffer.test'] },
    ...(options.maxSkewMs === undefined ? {} : { maxSkewMs: options.maxSkewMs }),
  });
  return {
    accessKeys,
    verifier,
    lookups,
    setNow: (ms: number) => {
      now = ms;
    },
  };
}

/** A whole second, as X-Amz-Date carries no milliseconds. */
function wholeSecondNow(): Date {
  return new Date(Math.floor(Date.now() / 1000) * 1000);
}

describe('Class: SigV4Verifier', () => {
  describe('requests signed by the AWS SDK', () => {
    it('accepts a GetSecretValue request and resolves the access key to its principal', async () => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci-pipeline', policies: ['app'] });
      const request = await sdkRequest({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      expect(request.rawPath).toBe('/');
      expect(request.headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
      setNow(amzDateMs(request) + 2_000);

      const verified = await verifier.verify(request);
      expect(verified).toEqual({
        principal: {
          type: 'access-key',
          id: key.accessKeyId,
          displayName: 'ci-pipeline',
          policies: ['app'],
          metadata: { accessKeyId: key.accessKeyId },
        },
        accessKeyId: key.accessKeyId,
        region: 'eu-west-1',
        service: 'secretsmanager',
      });
    });

    it('reports the region the client signed for', async () => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const request = await sdkRequest({
        accessKeyId: key.accessKeyId,
        secretAccessKey: key.secretAccessKey,
        region: 'ap-southeast-2',
        send: (client) => client.send(new ListSecretsCommand({ MaxResults: 5 })),
      });
      setNow(amzDateMs(request));
      await expect(verifier.verify(request)).resolves.toMatchObject({ region: 'ap-southeast-2' });
    });

    it('accepts a body with non-ASCII text and characters JSON escapes', async () => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const request = await sdkRequest({
        accessKeyId: key.accessKeyId,
        secretAccessKey: key.secretAccessKey,
        send: (client) =>
          client.send(new PutSecretValueCommand({ SecretId: 'app/key', SecretString: 'päss"wörd\n\u2028🔑' })),
      });
      setNow(amzDateMs(request));
      await expect(verifier.verify(request)).resolves.toMatchObject({ accessKeyId: key.accessKeyId });
    });

    it('accepts an endpoint with a path prefix, verifying the raw path as received', async () => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const request = await sdkRequest({
        accessKeyId: key.accessKeyId,
        secretAccessKey: key.secretAccessKey,
        path: '/aws/sm%20v1',
      });
      // The SDK joins the endpoint path and the operation path `/`.
      expect(request.rawPath).toBe('/aws/sm%20v1/');
      setNow(amzDateMs(request));
      await expect(verifier.verify(request)).resolves.toMatchObject({ accessKeyId: key.accessKeyId });
      await refusal(verifier.verify({ ...request, rawPath: '/aws/sm%2520v1/' }));
      await refusal(verifier.verify({ ...request, rawPath: '/aws/sm v1/' }));
    });

    it("accepts LocalStack's imported test/test pair", async () => {
      const { accessKeys, verifier, setNow } = setup();
      await accessKeys.import({
        accessKeyId: 'test',
        secretAccessKey: 'test',
        principal: 'localstack',
        policies: ['dev'],
      });
      const request = await sdkRequest({ accessKeyId: 'test', secretAccessKey: 'test', region: 'us-east-1' });
      setNow(amzDateMs(request));
      const verified = await verifier.verify(request);
      expect(verified.principal).toMatchObject({ type: 'access-key', id: 'test', displayName: 'localstack' });
      expect(verified.region).toBe('us-east-1');
    });

    it('refuses the right key id signed with the wrong secret', async () => {
      const { accessKeys, verifier, setNow } = setup();
      await accessKeys.import({ accessKeyId: 'test', secretAccessKey: 'test', principal: 'localstack' });
      const request = await sdkRequest({ accessKeyId: 'test', secretAccessKey: 'not-test' });
      setNow(amzDateMs(request));
      await expectCode(verifier.verify(request), 'InvalidSignatureException', /does not match/);
    });

    it('refuses a session token as an invalid client token', async () => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const request = await sdkRequest({
        accessKeyId: key.accessKeyId,
        secretAccessKey: key.secretAccessKey,
        sessionToken: 'FwoGZXIvYXdzEXAMPLE',
      });
      expect(request.headers['x-amz-security-token']).toBeDefined();
      setNow(amzDateMs(request));
      await expectCode(verifier.verify(request), 'InvalidClientTokenId', /Session tokens are not supported/);
    });
  });

  describe('tampering', () => {
    it('refuses every one of 1,200 tampered variants of a signed request, with a SigV4Error', async () => {
      const { accessKeys, verifier, setNow } = setup({ services: ['secretsmanager', 'kms'] });
      const key = await accessKeys.create({ principal: 'ci', policies: ['app'] });
      const other = await accessKeys.create({ principal: 'other' });
      await accessKeys.import({ accessKeyId: 'test', secretAccessKey: 'test', principal: 'localstack' });
      const original = await sdkRequest({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      setNow(amzDateMs(original) + 1_000);
      await expect(verifier.verify(original)).resolves.toMatchObject({ accessKeyId: key.accessKeyId });
      const parts = authParts(original);
      const originalBody = original.body ?? Buffer.alloc(0);
      const hex = [...'0123456789abcdef'];

      const tamper = fc.oneof(
        fc
          .record({ index: fc.nat(63), char: fc.constantFrom(...hex) })
          .filter(({ index, char }) => parts.signature[index] !== char)
          .map(({ index, char }) => {
            const signature = parts.signature.slice(0, index) + char + parts.signature.slice(index + 1);
            return withAuth(original, { signature });
          }),
        fc
          .record({
            bytes: fc.uint8Array({ maxLength: 64 }).filter((b) => !Buffer.from(b).equals(originalBody)),
            rehash: fc.boolean(),
          })
          .map(({ bytes, rehash }) => {
            const body = Buffer.from(bytes);
            const changed = { ...original, body };
            if (!rehash) return changed;
            // An attacker who also fixes up the payload hash still cannot fix the signature.
            const sha = createHash('sha256').update(body).digest('hex');
            return withHeaders(changed, { 'x-amz-content-sha256': sha, 'content-length': String(body.length) });
          }),
        fc
          .record({ name: fc.constantFrom(...parts.signedHeaders), value: fc.string({ maxLength: 40 }) })
          .filter(({ name, value }) => canonicalValue(value) !== canonicalValue(original.headers[name] ?? ''))
          .map(({ name, value }) => withHeaders(original, { [name]: value })),
        fc.stringMatching(/^(\/[A-Za-z0-9_~-]{1,12}){1,3}\/?$/).map((rawPath) => ({ ...original, rawPath })),
        fc
          .record({ seconds: fc.integer({ min: -900, max: 900 }).filter((s) => s !== 0), rescope: fc.boolean() })
          .map(({ seconds, rescope }) => {
            const amzDate = formatAmzDate(amzDateMs(original) + seconds * 1000);
            const dated = withHeaders(original, { 'x-amz-date': amzDate });
            return rescope ? withAuth(dated, { date: amzDate.slice(0, 8) }) : dated;
          }),
        fc
          .stringMatching(/^[a-z]{2}-[a-z]{4,9}-[1-9]$/)
          .filter((region) => region !== parts.region)
          .map((region) => withAuth(original, { region })),
        fc
          .oneof(fc.constant(other.accessKeyId), fc.constant('test'), fc.stringMatching(/^[A-Za-z0-9]{1,24}$/))
          .filter((id) => id !== parts.accessKeyId)
          .map((accessKeyId) => withAuth(original, { accessKeyId })),
        fc.constantFrom(...parts.signedHeaders).map((name) => withHeaders(original, { [name]: undefined })),
        fc
          .constantFrom(...parts.signedHeaders)
          .map((name) => withAuth(original, { signedHeaders: parts.signedHeaders.filter((n) => n !== name) })),
        fc.constantFrom('GET', 'PUT', 'DELETE', 'post').map((method) => ({ ...original, method })),
        fc
          .record({ name: fc.stringMatching(/^[A-Za-z]{1,8}$/), value: fc.string({ maxLength: 8 }) })
          .map(({ name, value }) => ({ ...original, query: { [name]: value } })),
        fc.constant(withAuth(original, { service: 'kms' })),
      );

      let refused = 0;
      await fc.assert(
        fc.asyncProperty(tamper, async (request) => {
          const error = await refusal(verifier.verify(request));
          expect(error).toBeInstanceOf(UnauthenticatedError);
          expect(error.message).not.toContain(key.secretAccessKey);
          refused++;
        }),
        { numRuns: 1_200 },
      );
      expect(refused).toBeGreaterThanOrEqual(1_200);
    });

    it('refuses arbitrary Authorization headers with a SigV4Error, never a crash', async () => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const original = await sdkRequest({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      setNow(amzDateMs(original));
      const header = fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.string({ maxLength: 200 }).map((rest) => `AWS4-HMAC-SHA256 ${rest}`),
        fc
          .array(
            fc.oneof(
              fc.constantFrom('Credential=', 'SignedHeaders=', 'Signature=', ', ', ',', '/', ';', '='),
              fc.string({ maxLength: 12 }),
            ),
            { maxLength: 12 },
          )
          .map((pieces) => `AWS4-HMAC-SHA256 ${pieces.join('')}`),
      );
      await fc.assert(
        fc.asyncProperty(header, async (authorization) => {
          await refusal(verifier.verify(withHeaders(original, { authorization })));
        }),
        { numRuns: 500 },
      );
    });
  });

  describe('clock skew', () => {
    async function signedAt(options: { maxSkewMs?: number } = {}) {
      const context = setup(options);
      const key = await context.accessKeys.create({ principal: 'ci' });
      const request = await sdkRequest({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      return { ...context, request, at: amzDateMs(request) };
    }

    it('accepts a request signed up to 15 minutes ago', async () => {
      const { verifier, setNow, request, at } = await signedAt();
      setNow(at + 15 * MINUTE);
      await expect(verifier.verify(request)).resolves.toBeDefined();
    });

    it('refuses a request signed more than 15 minutes ago as expired, before looking up the key', async () => {
      const { verifier, setNow, request, at, lookups } = await signedAt();
      setNow(at + 15 * MINUTE + 1_000);
      await expectCode(
        verifier.verify(request),
        'InvalidSignatureException',
        /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/,
      );
      expect(lookups).toEqual([]);
    });

    it('accepts a request dated up to 15 minutes ahead', async () => {
      const { verifier, setNow, request, at } = await signedAt();
      setNow(at - 15 * MINUTE);
      await expect(verifier.verify(request)).resolves.toBeDefined();
    });

    it('refuses a request dated more than 15 minutes ahead', async () => {
      const { verifier, setNow, request, at } = await signedAt();
      setNow(at - 15 * MINUTE - 1_000);
      await expectCode(verifier.verify(request), 'InvalidSignatureException', /^Signature not yet current/);
    });

    it('honours a configured window', async () => {
      const { verifier, setNow, request, at } = await signedAt({ maxSkewMs: MINUTE });
      setNow(at + MINUTE);
      await expect(verifier.verify(request)).resolves.toBeDefined();
      setNow(at + MINUTE + 1_000);
      await expectCode(verifier.verify(request), 'InvalidSignatureException', /\(\d{8}T\d{6}Z - 1 min\.\)$/);
    });

    it('refuses a credential scope dated another day than X-Amz-Date', async () => {
      const { verifier, setNow, request, at } = await signedAt();
      setNow(at);
      const otherDay = formatAmzDate(at + 24 * 60 * MINUTE).slice(0, 8);
      await expectCode(
        verifier.verify(withAuth(request, { date: otherDay })),
        'InvalidSignatureException',
        /Credential scope/,
      );
    });

    it.each([['20240230T000000Z'], ['20240101T240000Z'], ['2024-01-01T00:00:00Z'], ['20240101T000000']])(
      'refuses the malformed X-Amz-Date %j',
      async (amzDate) => {
        const { verifier, request } = await signedAt();
        await expectCode(
          verifier.verify(withHeaders(request, { 'x-amz-date': amzDate })),
          'IncompleteSignature',
          /X-Amz-Date/,
        );
      },
    );
  });

  describe('signed headers', () => {
    it.each(['host', 'x-amz-date'])('refuses a request whose signature does not cover %s', async (header) => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const date = wholeSecondNow();
      setNow(date.getTime());
      const request = await signManually({
        accessKeyId: key.accessKeyId,
        secret: key.secretAccessKey,
        date,
        unsignableHeaders: new Set([header]),
      });
      expect(authParts(request).signedHeaders).not.toContain(header);
      await expectCode(
        verifier.verify(request),
        'IncompleteSignature',
        new RegExp(`'${header}' must be a signed header`),
      );
    });

    it('accepts headers the JavaScript SDK never signs, such as user-agent, when a client signed them', async () => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const date = wholeSecondNow();
      setNow(date.getTime());
      const request = await signManually({
        accessKeyId: key.accessKeyId,
        secret: key.secretAccessKey,
        date,
        headers: {
          'user-agent': 'aws-sdk-dotnet-coreclr/3.7  ClientAsync',
          'x-amz-target': 'secretsmanager.ListSecrets',
        },
        signableHeaders: new Set(['user-agent']),
      });
      expect(authParts(request).signedHeaders).toContain('user-agent');
      await expect(verifier.verify(request)).resolves.toMatchObject({ accessKeyId: key.accessKeyId });
      await refusal(verifier.verify(withHeaders(request, { 'user-agent': 'curl/8' })));
    });

    it('hashes the body itself when x-amz-content-sha256 is not sent', async () => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const date = wholeSecondNow();
      setNow(date.getTime());
      const request = await signManually({
        accessKeyId: key.accessKeyId,
        secret: key.secretAccessKey,
        date,
        body: '{"SecretId":"a"}',
        applyChecksum: false,
      });
      expect(request.headers['x-amz-content-sha256']).toBeUndefined();
      await expect(verifier.verify(request)).resolves.toBeDefined();
      await expectCode(
        verifier.verify({ ...request, body: Buffer.from('{"SecretId":"b"}') }),
        'InvalidSignatureException',
        /does not match/,
      );
    });

    it('refuses a body that does not match the signed x-amz-content-sha256', async () => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const request = await sdkRequest({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      setNow(amzDateMs(request));
      await expectCode(
        verifier.verify({ ...request, body: Buffer.from('{"SecretId":"other"}') }),
        'InvalidSignatureException',
        /x-amz-content-sha256/,
      );
    });

    it('verifies query parameters as the signer canonicalises them', async () => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const date = wholeSecondNow();
      setNow(date.getTime());
      const request = await signManually({
        accessKeyId: key.accessKeyId,
        secret: key.secretAccessKey,
        date,
        method: 'GET',
        path: '/v1/list',
        query: { prefix: 'a b/c', Action: 'List' },
      });
      await expect(verifier.verify(request)).resolves.toBeDefined();
      await refusal(verifier.verify({ ...request, query: { prefix: 'a b/d', Action: 'List' } }));
    });

    it('uses the host a proxy reports when told to', async () => {
      const { accessKeys, verifier, setNow } = setup({ hosts: { names: ['coffer.internal'] } });
      const key = await accessKeys.create({ principal: 'ci' });
      const request = await sdkRequest({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      setNow(amzDateMs(request));
      const signedHost = request.headers.host!;
      const proxied = withHeaders(request, { host: 'coffer.internal:8200' });
      await expectCode(verifier.verify(proxied), 'InvalidSignatureException', /does not match/);
      await expect(verifier.verify(proxied, { host: signedHost })).resolves.toBeDefined();
    });

    it('refuses a signed Date header, which the signer cannot reproduce', async () => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const request = await sdkRequest({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      setNow(amzDateMs(request));
      const parts = authParts(request);
      const tampered = withAuth(withHeaders(request, { date: 'Mon, 01 Jan 2024 00:00:00 GMT' }), {
        signedHeaders: [...parts.signedHeaders, 'date'].sort(),
      });
      await expectCode(verifier.verify(tampered), 'IncompleteSignature', /must not include 'date'/);
    });

    it('refuses a signed header missing from the request', async () => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const request = await sdkRequest({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      setNow(amzDateMs(request));
      await expectCode(
        verifier.verify(withHeaders(request, { 'x-amz-target': undefined })),
        'IncompleteSignature',
        /'x-amz-target' is missing/,
      );
    });
  });

  describe('headers that must be signed', () => {
    it('refuses an x-amz-target left out of the signature, and so its swap under the same signature', async () => {
      const { accessKeys, verifier, setNow, lookups } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const date = wholeSecondNow();
      setNow(date.getTime());
      const request = await signManually({
        accessKeyId: key.accessKeyId,
        secret: key.secretAccessKey,
        date,
        headers: { 'x-amz-target': 'secretsmanager.DescribeSecret' },
        body: '{"SecretId":"prod/db"}',
        unsignableHeaders: new Set(['x-amz-target']),
      });
      expect(authParts(request).signedHeaders).not.toContain('x-amz-target');
      const swapped = withHeaders(request, { 'x-amz-target': 'secretsmanager.GetSecretValue' });
      for (const candidate of [request, swapped]) {
        await expectCode(
          verifier.verify(candidate),
          'IncompleteSignature',
          /'x-amz-target' must be a signed header when the request carries it/,
        );
      }
      expect(lookups).toEqual([]);
    });

    it.each([
      ['content-type', 'application/x-amz-json-1.1'],
      ['x-amz-target', 'secretsmanager.GetSecretValue'],
      ['x-amz-security-token', 'FwoGZXIvYXdzEXAMPLE'],
      ['x-amz-content-sha256', createHash('sha256').update('{}').digest('hex')],
      ['x-amz-user-agent', 'aws-sdk-js/3'],
    ])('refuses a request carrying %s outside its signature', async (name, value) => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const date = wholeSecondNow();
      setNow(date.getTime());
      const request = await signManually({
        accessKeyId: key.accessKeyId,
        secret: key.secretAccessKey,
        date,
        headers: { [name]: value },
        applyChecksum: false,
        unsignableHeaders: new Set([name]),
      });
      expect(request.headers[name]).toBe(value);
      expect(authParts(request).signedHeaders).not.toContain(name);
      await expectCode(
        verifier.verify(request),
        'IncompleteSignature',
        new RegExp(`'${name}' must be a signed header`),
      );
    });

    it('refuses an unsigned header added to a request the SDK signed', async () => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const request = await sdkRequest({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      setNow(amzDateMs(request));
      await expect(verifier.verify(request)).resolves.toBeDefined();
      await expectCode(
        verifier.verify(withHeaders(request, { 'x-amz-security-token': 'added' })),
        'IncompleteSignature',
        /'x-amz-security-token' must be a signed header/,
      );
    });

    it('accepts a GET without a body or content type that signs only host and x-amz-date', async () => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const date = wholeSecondNow();
      setNow(date.getTime());
      const signed = await signManually({
        accessKeyId: key.accessKeyId,
        secret: key.secretAccessKey,
        date,
        method: 'GET',
        path: '/v1/secret/data/app',
        body: '',
        applyChecksum: false,
        unsignableHeaders: new Set(['content-type']),
      });
      const bare = withHeaders({ ...signed, body: undefined }, { 'content-type': undefined });
      expect(authParts(bare).signedHeaders).toEqual(['host', 'x-amz-date']);
      await expect(verifier.verify(bare)).resolves.toBeDefined();
    });
  });

  describe('region and host', () => {
    it('refuses a credential scoped to a region the node does not serve, without a lookup', async () => {
      const { accessKeys, verifier, setNow, lookups } = setup({ regions: ['local', 'us-east-1'] });
      const key = await accessKeys.create({ principal: 'ci' });
      const request = await sdkRequest({
        accessKeyId: key.accessKeyId,
        secretAccessKey: key.secretAccessKey,
        region: 'eu-central-1',
      });
      setNow(amzDateMs(request));
      await expectCode(
        verifier.verify(request),
        'InvalidSignatureException',
        /^Credential should be scoped to a valid region, not 'eu-central-1'\. This node serves 'local' or 'us-east-1'\.$/,
      );
      expect(lookups).toEqual([]);
      const served = await sdkRequest({
        accessKeyId: key.accessKeyId,
        secretAccessKey: key.secretAccessKey,
        region: 'us-east-1',
      });
      setNow(amzDateMs(served));
      await expect(verifier.verify(served)).resolves.toMatchObject({ region: 'us-east-1' });
    });

    it('refuses a valid signature made for a host the node does not serve', async () => {
      const { accessKeys, verifier, setNow, lookups } = setup({ hosts: { names: ['coffer.test'] } });
      const key = await accessKeys.create({ principal: 'ci' });
      const date = wholeSecondNow();
      setNow(date.getTime());
      const request = await signManually({
        accessKeyId: key.accessKeyId,
        secret: key.secretAccessKey,
        date,
        headers: { host: 'evil.example', 'x-amz-target': 'secretsmanager.ListSecrets' },
      });
      expect(request.headers.host).toBe('evil.example');
      await expectCode(
        verifier.verify(request),
        'InvalidSignatureException',
        /signed for a host this node does not serve/,
      );
      expect(lookups).toEqual([]);
      const other = setup({ hosts: { names: ['Evil.Example'] } });
      await other.accessKeys.import({
        accessKeyId: key.accessKeyId,
        secretAccessKey: key.secretAccessKey,
        principal: 'ci',
      });
      other.setNow(date.getTime());
      await expect(other.verifier.verify(request)).resolves.toMatchObject({ accessKeyId: key.accessKeyId });
    });

    it('accepts loopback hosts by default and refuses them when loopback is off', async () => {
      const loopback = setup({ hosts: {} });
      const key = await loopback.accessKeys.create({ principal: 'ci' });
      const request = await sdkRequest({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      expect(request.headers.host).toMatch(/^127\.0\.0\.1:\d+$/);
      loopback.setNow(amzDateMs(request));
      await expect(loopback.verifier.verify(request)).resolves.toBeDefined();
      const remote = setup({ hosts: { names: ['coffer.test'], loopback: false } });
      await remote.accessKeys.import({
        accessKeyId: key.accessKeyId,
        secretAccessKey: key.secretAccessKey,
        principal: 'ci',
      });
      remote.setNow(amzDateMs(request));
      await expectCode(remote.verifier.verify(request), 'InvalidSignatureException', /host this node does not serve/);
    });
  });

  describe('access keys', () => {
    it('refuses an unknown access key as an invalid client token', async () => {
      const { verifier, setNow } = setup();
      const request = await sdkRequest({ accessKeyId: 'AKCFNOSUCHKEY00000', secretAccessKey: 'whatever' });
      setNow(amzDateMs(request));
      await expectCode(
        verifier.verify(request),
        'InvalidClientTokenId',
        /security token included in the request is invalid/,
      );
    });

    it('refuses an inactive access key, and accepts it again once re-activated', async () => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const request = await sdkRequest({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      setNow(amzDateMs(request));
      await expect(verifier.verify(request)).resolves.toBeDefined();
      await accessKeys.setStatus(key.accessKeyId, 'inactive');
      await expectCode(verifier.verify(request), 'InvalidClientTokenId');
      await accessKeys.setStatus(key.accessKeyId, 'active');
      await expect(verifier.verify(request)).resolves.toBeDefined();
    });

    it('refuses a deleted access key', async () => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const request = await sdkRequest({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      setNow(amzDateMs(request));
      await expect(verifier.verify(request)).resolves.toBeDefined();
      await accessKeys.delete(key.accessKeyId);
      await expectCode(verifier.verify(request), 'InvalidClientTokenId');
    });

    it('refuses a record that is not active even if the key source hands one out', async () => {
      const { accessKeys } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const request = await sdkRequest({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      const verifier = new SigV4Verifier({
        accessKeys: {
          secretFor: async () => ({ secret: key.secretAccessKey, record: { ...key.record, status: 'inactive' } }),
        },
        clock: { now: () => amzDateMs(request) },
        services: ['secretsmanager'],
        regions: REGIONS,
      });
      await expectCode(verifier.verify(request), 'InvalidClientTokenId');
    });

    it('refuses an access key id of characters no key has, without a lookup', async () => {
      const { accessKeys, verifier, setNow, lookups } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const request = await sdkRequest({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      setNow(amzDateMs(request));
      await expectCode(verifier.verify(withAuth(request, { accessKeyId: 'AKCF-bad' })), 'InvalidClientTokenId');
      expect(lookups).toEqual([]);
    });
  });

  describe('Authorization header', () => {
    it('answers MissingAuthenticationToken when there is no Authorization header', async () => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const request = await sdkRequest({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      setNow(amzDateMs(request));
      await expectCode(
        verifier.verify(withHeaders(request, { authorization: undefined })),
        'MissingAuthenticationToken',
      );
      await expectCode(verifier.verify(withHeaders(request, { authorization: '  ' })), 'MissingAuthenticationToken');
    });

    const credential = 'Credential=AKCFAAAAAAAAAAAAAAAA/20240101/us-east-1/secretsmanager/aws4_request';
    const signed = 'SignedHeaders=host;x-amz-date';
    const signature = `Signature=${'a'.repeat(64)}`;
    const scope = (middle: string) => `AWS4-HMAC-SHA256 Credential=AKCFX/${middle}, ${signed}, ${signature}`;
    it.each([
      ['another scheme', 'Bearer cft_abc'],
      ['another algorithm', `AWS4-ECDSA-P256-SHA256 ${credential}, ${signed}, ${signature}`],
      ['no components', 'AWS4-HMAC-SHA256'],
      ['no Signature', `AWS4-HMAC-SHA256 ${credential}, ${signed}`],
      ['no Credential', `AWS4-HMAC-SHA256 ${signed}, ${signature}`],
      ['an empty SignedHeaders', `AWS4-HMAC-SHA256 ${credential}, SignedHeaders=, ${signature}`],
      ['a repeated component', `AWS4-HMAC-SHA256 ${credential}, ${credential}, ${signed}, ${signature}`],
      ['an unknown component', `AWS4-HMAC-SHA256 ${credential}, ${signed}, ${signature}, Extra=1`],
      ['a four-part credential', scope('20240101/us-east-1/aws4_request')],
      ['a wrong terminator', scope('20240101/us-east-1/secretsmanager/aws4')],
      ['a six-part credential', scope('20240101/us-east-1/secretsmanager/aws4_request/x')],
      ['a malformed scope date', scope('2024011/us-east-1/secretsmanager/aws4_request')],
      ['an empty region', scope('20240101//secretsmanager/aws4_request')],
      ['upper-case signed headers', `AWS4-HMAC-SHA256 ${credential}, SignedHeaders=Host;x-amz-date, ${signature}`],
      ['unsorted signed headers', `AWS4-HMAC-SHA256 ${credential}, SignedHeaders=x-amz-date;host, ${signature}`],
      ['duplicate signed headers', `AWS4-HMAC-SHA256 ${credential}, SignedHeaders=host;host;x-amz-date, ${signature}`],
      ['a short signature', `AWS4-HMAC-SHA256 ${credential}, ${signed}, Signature=${'a'.repeat(63)}`],
      ['an upper-case signature', `AWS4-HMAC-SHA256 ${credential}, ${signed}, Signature=${'A'.repeat(64)}`],
    ])('answers IncompleteSignature for %s, without a lookup', async (_label, authorization) => {
      const { verifier, lookups } = setup();
      const request: BrokerRequest = {
        method: 'POST',
        rawPath: '/',
        query: {},
        headers: { authorization, host: 'coffer.test', 'x-amz-date': '20240101T000000Z' },
        body: undefined,
        sourceIp: '127.0.0.1',
      };
      await expectCode(verifier.verify(request), 'IncompleteSignature');
      expect(lookups).toEqual([]);
    });

    it('accepts the components in any order, as AWS does', async () => {
      const { accessKeys, verifier, setNow } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const request = await sdkRequest({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      setNow(amzDateMs(request));
      const p = authParts(request);
      const reordered = `AWS4-HMAC-SHA256 Signature=${p.signature},SignedHeaders=${p.signedHeaders.join(';')},  Credential=${p.accessKeyId}/${p.date}/${p.region}/${p.service}/aws4_request`;
      await expect(verifier.verify(withHeaders(request, { authorization: reordered }))).resolves.toBeDefined();
    });

    it('refuses a credential scoped to a service it does not serve, without a lookup', async () => {
      const { accessKeys, verifier, setNow, lookups } = setup();
      const key = await accessKeys.create({ principal: 'ci' });
      const request = await sdkRequest({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      setNow(amzDateMs(request));
      await expectCode(
        verifier.verify(withAuth(request, { service: 'kms' })),
        'InvalidSignatureException',
        /Credential should be scoped to correct service: 'secretsmanager'/,
      );
      expect(lookups).toEqual([]);
    });
  });

  describe('construction', () => {
    it('refuses an empty service list and a negative skew', () => {
      const accessKeys = { secretFor: async () => undefined };
      const clock = { now: () => 0 };
      const services = ['secretsmanager'];
      const regions = ['us-east-1'];
      expect(() => new SigV4Verifier({ accessKeys, clock, services: [], regions })).toThrow(RangeError);
      expect(() => new SigV4Verifier({ accessKeys, clock, services, regions, maxSkewMs: -1 })).toThrow(RangeError);
    });

    it('refuses an empty or malformed region list and a malformed host name', () => {
      const accessKeys = { secretFor: async () => undefined };
      const clock = { now: () => 0 };
      const services = ['secretsmanager'];
      expect(() => new SigV4Verifier({ accessKeys, clock, services, regions: [] })).toThrow(RangeError);
      expect(() => new SigV4Verifier({ accessKeys, clock, services, regions: ['US East'] })).toThrow(RangeError);
      expect(
        () => new SigV4Verifier({ accessKeys, clock, services, regions: ['local'], hosts: { names: ['a@b'] } }),
      ).toThrow(RangeError);
    });
  });
});
