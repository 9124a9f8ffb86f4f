import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_BODY_BYTES,
  type RunningInjector,
  startInjectorServer,
} from '../../../lambdas/injector/injector-server.ts';
import { admissionReviewOf, EXAMPLE_SETTINGS, examplePod, INJECTION_EXAMPLES } from '../../../scripts/injected-pods.ts';
import { makeServerPki, type TestPki } from '../../support/kubernetes-api.ts';
import { waitFor } from '../../support/wait-for.ts';

let dir: string;
let pki: TestPki;
let injector: RunningInjector;
const logged: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'coffer-injector-'));
  pki = makeServerPki('injector-test-ca');
  writeFileSync(path.join(dir, 'tls.crt'), pki.certPem);
  writeFileSync(path.join(dir, 'tls.key'), pki.keyPem);
  injector = await startInjectorServer({
    host: '127.0.0.1',
    port: 0,
    tlsCertFile: path.join(dir, 'tls.crt'),
    tlsKeyFile: path.join(dir, 'tls.key'),
    settings: EXAMPLE_SETTINGS,
    log: (message) => logged.push(message),
  });
});
afterAll(async () => {
  await injector.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  body: string;
  /** The serving certificate's serial number. */
  serial: string;
}

/** One HTTPS request trusting `ca` alone. */
function send(
  method: string,
  pathName: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
  ca = pki.caPem,
) {
  return new Promise<Answer>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: injector.port, method, path: pathName, ca, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const cert = (res.socket as TLSSocket).getPeerX509Certificate?.();
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            serial: cert === undefined ? '' : new X509Certificate(cert.raw).serialNumber,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
const json = { 'content-type': 'application/json' };

describe('startInjectorServer', () => {
  it('answers GET /healthz over HTTPS', async () => {
    expect(await send('GET', '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
  });

  it('answers POST /mutate with the AdmissionReview response, and logs no annotation value it did not refuse', async () => {
    const review = admissionReviewOf(examplePod(INJECTION_EXAMPLES[0]!), 'server-uid-1');
    const res = await send('POST', '/mutate', JSON.stringify(review), json);
    expect(res.status).toBe(200);
    const answer = JSON.parse(res.body) as {
      response: { uid: string; allowed: boolean; patchType: string; patch: string };
    };
    expect(answer).toMatchObject({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'server-uid-1', allowed: true, patchType: 'JSONPatch' },
    });
    expect(JSON.parse(Buffer.from(answer.response.patch, 'base64').toString('utf8')).length).toBeGreaterThan(0);
    expect(logged).toContain('injected review server-uid-1');
  });

  it('answers a refused pod with 200 and allowed false (the API server shows the message)', async () => {
    const pod = examplePod(INJECTION_EXAMPLES[0]!);
    pod.metadata!.annotations!['coffer.io/role'] = 'NOT A ROLE';
    const res = await send('POST', '/mutate', JSON.stringify(admissionReviewOf(pod, 'server-uid-2')), json);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).response).toMatchObject({ uid: 'server-uid-2', allowed: false, status: { code: 400 } });
  });

  it.each([
    ['not JSON', 'POST', '/mutate', '{', json, 400, 'the body is not JSON'],
    ['not an AdmissionReview', 'POST', '/mutate', '{"kind":"Pod"}', json, 400, 'not an AdmissionReview'],
    ['another content type', 'POST', '/mutate', '{}', { 'content-type': 'text/plain' }, 415, 'application/json'],
    ['GET /mutate', 'GET', '/mutate', undefined, {}, 405, 'method not allowed'],
    ['POST /healthz', 'POST', '/healthz', '', json, 405, 'method not allowed'],
    ['another path', 'GET', '/validate', undefined, {}, 404, 'not found'],
  ])('refuses %s', async (_label, method, pathName, body, headers, status, message) => {
    const res = await send(method, pathName, body, headers);
    expect(res.status).toBe(status);
    expect(res.body).toContain(message);
  });

  it('refuses a body over the limit without reading it all (413)', async () => {
    // The server answers and closes while the client still writes: the client sees the 413 or the reset, by timing.
    const res = await send('POST', '/mutate', Buffer.alloc(MAX_BODY_BYTES + 1, 0x20), json).catch(
      (err: NodeJS.ErrnoException) => err.code ?? 'no code',
    );
    if (typeof res === 'string') expect(['ECONNRESET', 'EPIPE']).toContain(res);
    else expect(res.status).toBe(413);
    expect((await send('GET', '/healthz')).status).toBe(200);
  });

  it('serves a renewed certificate once the files change, and keeps the old one when the new pair does not load', async () => {
    const before = (await send('GET', '/healthz')).serial;
    const renewed = makeServerPki('injector-renewed-ca');
    writeFileSync(path.join(dir, 'tls.key'), renewed.keyPem);
    writeFileSync(path.join(dir, 'tls.crt'), renewed.certPem);
    const after = await waitFor('the renewed certificate', async () => {
      const res = await send('GET', '/healthz', undefined, {}, renewed.caPem).catch(() => undefined);
      return res?.status === 200 ? res : undefined;
    });
    expect(after.serial).not.toBe(before);
    // The old CA no longer verifies the server: the new certificate is the one served.
    await expect(send('GET', '/healthz')).rejects.toThrow();
    pki = renewed;

    writeFileSync(path.join(dir, 'tls.key'), 'not a key');
    await injector.reloadTls();
    expect(logged.some((line) => line.startsWith('kept the TLS certificate'))).toBe(true);
    expect((await send('GET', '/healthz')).serial).toBe(after.serial);
    writeFileSync(path.join(dir, 'tls.key'), renewed.keyPem);
  });
});
