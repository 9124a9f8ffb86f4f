/**
 * Certificate login benchmark (issue 12): logins per second (and p99) beside the bare signature verification every
 * login makes, measured in the same run because absolute numbers on a shared 2-core machine mean little.
 *
 * - `baseline`: one `X509Certificate.verify` of an EC P-256 client certificate against its CA (@peculiar/x509 over
 *   WebCrypto): the cryptographic floor of a certificate login.
 * - `parseAndVerify`: the same, after parsing the presented DER: the floor of any login that is handed bytes.
 * - `method`: `CertMethod.login` with the role in memory: parse, dates, signature, usage, names, the PKI revocation
 *   port (answering `unknown`), metadata.
 * - `broker`: `POST /v1/auth/cert/login` through the broker on in-memory adapters: routing, body validation, the mount
 *   service (mount and role reads), the method, an orphan token minted, request and response audited. No TLS: the
 *   handshake is the TLS suite's.
 *
 * Run alone with `node --import tsx bench/cert-login.ts`; `bench/run.ts` runs it as a suite.
 */

import { Broker } from '../lambdas/broker/broker.ts';
import { nativeRoutes } from '../lambdas/broker/routes/index.ts';
import { CertRoleSchema } from '../lambdas/core/auth/cert/cert-config.ts';
import { CERT_METHOD } from '../lambdas/core/auth/cert/cert-method.ts';
import { X509Certificate } from '../lambdas/core/auth/cert/x509.ts';
import { AuthMountService } from '../lambdas/core/auth/methods/auth-mount-service.ts';
import { buildAuthMethods } from '../lambdas/core/auth/methods/registry.ts';
import { memoryNode, request } from '../test/support/memory-node.ts';
import { makeCa } from '../test/unit/core/auth/cert/cert-test-ca.ts';
import { measure, type Rate } from './measure.ts';

const COUNT = Number(process.env.BENCH_CERT_LOGINS ?? 2000);
const CONCURRENCY = 8;

const now = Date.now();
const ca = await makeCa(now);
const client = await ca.issue({ subject: 'CN=bench.internal', uris: ['spiffe://example.org/ns/prod/sa/bench'] });
const caCert = new X509Certificate(ca.pem);
const leaf = new X509Certificate(client.der);
const revocation = { revocationStatus: async () => 'unknown' as const };

const baseline = await measure(COUNT, CONCURRENCY, async () => {
  if (!(await leaf.verify({ publicKey: caCert.publicKey, signatureOnly: true }))) throw new Error('verify failed');
});

// A login must also read the certificate it is handed (DER → X.509), which costs more than the signature check.
const parseAndVerify = await measure(COUNT, CONCURRENCY, async () => {
  const presented = new X509Certificate(client.der);
  if (!(await presented.verify({ publicKey: caCert.publicKey, signatureOnly: true }))) throw new Error('verify failed');
});

const method = CERT_METHOD.create({
  store: undefined as never,
  clock: { now: () => now },
  certificateRevocation: revocation,
});
const role = CertRoleSchema.parse({
  certificate: ca.pem,
  allowed_uri_sans: ['spiffe://example.org/ns/*/sa/bench'],
  token_policies: ['default'],
});
const mount = { path: 'cert', id: 'cert.bench', config: {} };
const context = { sourceIp: '127.0.0.1', now, requestId: 'bench', clientCertificate: client.der };
const inMethod = await measure(COUNT, CONCURRENCY, async () => {
  await method.login(mount, { name: 'bench' }, { get: async () => role }, context);
});

const node = await memoryNode();
const authMounts = new AuthMountService({
  store: node.store,
  clock: node.deps.clock,
  methods: buildAuthMethods({ store: node.store, clock: node.deps.clock, certificateRevocation: revocation }),
  tokens: node.deps.tokens,
});
const broker = new Broker({ ...node.deps, authMounts }, nativeRoutes(), () => {});
const root = (method: string, path: string, body: unknown) =>
  broker.handle(request(method, path, { token: node.rootToken, body }));
await root('PUT', '/v1/sys/policies/bench', { rules: [{ path: 'secrets/bench/*', capabilities: ['read'] }] });
await root('POST', '/v1/sys/auth/cert', { type: 'cert' });
await root('PUT', '/v1/auth/cert/role/bench', { ...role, token_policies: ['bench'] });
const loginRequest = {
  ...request('POST', '/v1/auth/cert/login', { body: { name: 'bench' } }),
  clientCertificate: Buffer.from(client.der),
};
const viaBroker = await measure(COUNT, CONCURRENCY, async () => {
  const res = await broker.handle(loginRequest);
  if (res.status !== 200) throw new Error(`login answered ${res.status}: ${res.body}`);
});

const row = (name: string, rate: Rate) =>
  `| ${name} | ${rate.perSecond.toFixed(0)} | ${rate.p50Ms.toFixed(2)} | ${rate.p99Ms.toFixed(2)} | ${(baseline.perSecond / rate.perSecond).toFixed(2)}× |`;
console.log(`${COUNT} logins, concurrency ${CONCURRENCY}`);
console.log('| | per second | p50 ms | p99 ms | cost vs baseline |');
console.log('|---|---|---|---|---|');
console.log(row('bare signature verification (baseline)', baseline));
console.log(row('parse the presented certificate + verify', parseAndVerify));
console.log(row('CertMethod.login', inMethod));
console.log(row('POST /v1/auth/cert/login through the broker (token + audit)', viaBroker));
