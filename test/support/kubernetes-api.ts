import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A CA and a certificate it signed, made by openssl for the test. */
export interface TestPki {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** A CA and a server certificate for `127.0.0.1` and `localhost` it signed (P-256, valid a day). */
export function makeServerPki(caName = 'kubernetes-test-ca'): TestPki {
  const dir = mkdtempSync(path.join(tmpdir(), 'coffer-k8s-pki-'));
  const at = (name: string) => path.join(dir, name);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    run(['req', '-x509', ...ec, '-days', '1', '-subj', `/CN=${caName}`, '-keyout', at('ca.key'), '-out', at('ca.crt')]);
    run(['req', '-new', ...ec, '-subj', '/CN=kube-apiserver', '-keyout', at('server.key'), '-out', at('server.csr')]);
    const ext = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n';
    writeFileSync(at('server.ext'), ext);
    run([
      'x509',
      '-req',
      '-in',
      at('server.csr'),
      '-CA',
      at('ca.crt'),
      '-CAkey',
      at('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      at('server.ext'),
      '-out',
      at('server.crt'),
    ]);
    return {
      caPem: readFileSync(at('ca.crt'), 'utf8'),
      certPem: readFileSync(at('server.crt'), 'utf8'),
      keyPem: readFileSync(at('server.key'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a service-account token stands for in the fake cluster. */
export interface ClusterAccount {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** The audiences the token is valid for. @default the API server's */
  readonly audiences?: readonly string[];
}

/** A request the fake API server received. */
export interface ReceivedReview {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly body: { spec?: { token?: string; audiences?: string[] } } | undefined;
}

/**
 * A Kubernetes API server that speaks only the TokenReview API (`POST /apis/authentication.k8s.io/v1/tokenreviews`),
 * over HTTPS with a certificate of the test's CA, on a free loopback port. It answers 401 to a caller whose bearer
 * token is not `reviewerJwt`, and authenticates exactly the tokens in `accounts` (a token removed from it models a
 * deleted pod or service account).
 */
export interface FakeKubernetesApi {
  readonly url: string;
  readonly port: number;
  readonly caPem: string;
  readonly accounts: Map<string, ClusterAccount>;
  readonly received: ReceivedReview[];
  close(): Promise<void>;
}

export const API_SERVER_AUDIENCE = 'https://kubernetes.default.svc.cluster.local';

export async function startKubernetesApi(
  reviewerJwt: string,
  pki: TestPki = makeServerPki(),
): Promise<FakeKubernetesApi> {
  const accounts = new Map<string, ClusterAccount>();
  const received: ReceivedReview[] = [];
  const server: Server = createServer({ cert: pki.certPem, key: pki.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body: ReceivedReview['body'];
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ReceivedReview['body'];
      } catch {
        body = undefined;
      }
      received.push({ method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization, body });
      const send = (status: number, answer: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      };
      if (req.method !== 'POST' || req.url !== '/apis/authentication.k8s.io/v1/tokenreviews') {
        send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
        return;
      }
      if (req.headers.authorization !== `Bearer ${reviewerJwt}`) {
        send(401, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401 });
        return;
      }
      const spec = body?.spec ?? {};
      const account = accounts.get(spec.token ?? '');
      const valid = account?.audiences ?? [API_SERVER_AUDIENCE];
      const wanted = spec.audiences ?? [API_SERVER_AUDIENCE];
      const audiences = wanted.filter((aud) => valid.includes(aud));
      const status =
        account === undefined || audiences.length === 0
          ? {
              authenticated: false,
              error: account === undefined ? 'invalid bearer token' : 'token audiences are invalid',
            }
          : {
              authenticated: true,
              user: {
                username: `system:serviceaccount:${account.namespace}:${account.name}`,
                uid: account.uid,
                groups: ['system:serviceaccounts', `system:serviceaccounts:${account.namespace}`],
                extra: { 'authentication.kubernetes.io/pod-name': [`${account.name}-7d9f`] },
              },
              audiences,
            };
      send(201, { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', spec, status });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    caPem: pki.caPem,
    accounts,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
