import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';

/** A signing key of a test issuer, made by jose, with its public half as a JWK and as PEM. */
export interface TestKey {
  readonly alg: 'RS256' | 'ES256';
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
  readonly pem: string;
  /** A compact JWT over `claims`, signed with this key; `header` overrides the protected header. */
  sign(claims: JWTPayload, header?: Record<string, unknown>): Promise<string>;
}

export async function makeKey(alg: 'RS256' | 'ES256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return {
    alg,
    kid,
    privateKey,
    jwk,
    pem: await exportSPKI(publicKey),
    sign: (claims, header = {}) =>
      new SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT', ...header }).sign(privateKey),
  };
}

/** Claims as GitHub Actions' OIDC provider issues them for a job in `octo-org/api` on `main`. */
export function githubClaims(now: number, overrides: JWTPayload = {}): JWTPayload {
  const seconds = Math.floor(now / 1000);
  return {
    iss: 'https://token.actions.githubusercontent.com',
    aud: 'https://coffer.example.com',
    sub: 'repo:octo-org/api:environment:production',
    repository: 'octo-org/api',
    repository_owner: 'octo-org',
    ref: 'refs/heads/main',
    environment: 'production',
    job_workflow_ref: 'octo-org/api/.github/workflows/deploy.yml@refs/heads/main',
    iat: seconds,
    nbf: seconds,
    exp: seconds + 300,
    ...overrides,
  };
}

/**
 * An issuer on a free loopback port serving its JWKS at `/jwks.json` and an OIDC discovery document at
 * `/.well-known/openid-configuration` (issuer = its base URL). `keys` may be replaced to model a key rotation; `hits`
 * counts requests per path.
 */
export interface TestIssuer {
  readonly url: string;
  readonly port: number;
  keys: JWK[];
  /** Overrides the discovery document. */
  discovery: Record<string, unknown> | undefined;
  readonly hits: Map<string, number>;
  close(): Promise<void>;
}

export async function startIssuer(keys: JWK[]): Promise<TestIssuer> {
  const hits = new Map<string, number>();
  let server: Server | undefined;
  const issuer: TestIssuer = {
    url: '',
    port: 0,
    keys,
    discovery: undefined,
    hits,
    close: () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
  };
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const send = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (path === '/jwks.json') send({ keys: issuer.keys });
    else if (path === '/.well-known/openid-configuration') {
      send(issuer.discovery ?? { issuer: issuer.url, jwks_uri: `${issuer.url}/jwks.json` });
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  Object.assign(issuer, { port, url: `http://127.0.0.1:${port}` });
  return issuer;
}
