import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import path from 'node:path';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import jsonPatch, { type Operation } from 'fast-json-patch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admissionReviewOf } from '../../scripts/injected-pods.ts';
import { type FakeKubernetesApi, makeServerPki, startKubernetesApi, type TestPki } from '../support/kubernetes-api.ts';
import { validateKubernetesObject } from '../support/kubernetes-schema.ts';
import type { KubeObject } from '../support/kustomize.ts';
import { api, COFFER_BIN, runCli, tempDir } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';
import { waitFor } from '../support/wait-for.ts';
import { makeKey } from '../unit/core/auth/jwt/jwt-test-issuer.ts';
import { projectedClaims } from '../unit/core/auth/kubernetes/kubernetes-test-tokens.ts';

/**
 * Issue 17 item 5, short of a cluster: `coffer injector` serves a real AdmissionReview over HTTPS; its patch applied to
 * the pod gives a pod the Kubernetes schema accepts; then the injected agent containers are run as the kubelet would
 * run them (the image's entrypoint `coffer` with their arguments, their environment, each volume mount a directory of the test, the projected token a file)
 * against a real Coffer server whose Kubernetes auth method asks a loopback TokenReview API. The files in the shared
 * volume's stand-in hold the rendered secret and template.
 */

const REVIEWER = 'reviewer-token.of-the-coffer-service-account';
/** The pod's projected token for Coffer's audience (a signed JWT, as the kubelet writes it), set before the tests. */
let POD_TOKEN = '';

let cluster: FakeKubernetesApi;
const env: Record<string, string> = {};
beforeAll(async () => {
  cluster = await startKubernetesApi(REVIEWER);
  const key = await makeKey('RS256');
  POD_TOKEN = await key.sign(projectedClaims(Date.now(), { uid: 'uid-of-web' }, { aud: ['coffer'] }));
  cluster.accounts.set(POD_TOKEN, { namespace: 'shop', name: 'web', uid: 'uid-of-web', audiences: ['coffer'] });

  env.COFFER_EGRESS_ALLOW = `127.0.0.1:${cluster.port}`;
});
afterAll(() => cluster.close());
const current = useServer(env);
const files = tempDir('coffer-injector-e2e-');
afterAll(() => files.cleanup());

interface Child {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
}
const children: Child[] = [];
afterAll(async () => {
  for (const { child, exited } of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  }
});

function spawnCli(args: string[], childEnv: Record<string, string>): Child {
  const child = spawn(process.execPath, [COFFER_BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...childEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started = { child, exited, output: () => out };
  children.push(started);
  return started;
}

let pki: TestPki;
let injectorUrl: string;
let injector: Child;

beforeAll(async () => {
  const { address, rootToken } = current();
  const root = async (method: string, p: string, body?: unknown) => {
    const res = await api(address, rootToken, method, p, body);
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    return res.body;
  };
  await root('POST', '/v1/sys/auth/kubernetes', {
    type: 'kubernetes',
    config: { kubernetes_host: cluster.url, kubernetes_ca_cert: cluster.caPem, token_reviewer_jwt: REVIEWER },
  });
  await root('PUT', '/v1/sys/policies/shop-web', { rules: [{ path: 'secrets/shop/*', capabilities: ['read'] }] });
  const role = await runCli(
    [
      'kubernetes',
      'role',
      'put',
      'web',
      '--service-account',
      'web',
      '--namespace',
      'shop',
      '--audience',
      'coffer',
      '--policy',
      'shop-web',
      '--token-ttl',
      '15m',
    ],
    { env: { COFFER_ADDR: address, COFFER_TOKEN: rootToken } },
  );
  expect(role.code, role.stderr).toBe(0);
  await root('PUT', '/v1/secret/data/shop/db', { value: JSON.stringify({ username: 'shop', password: 'pw-1' }) });
  await root('PUT', '/v1/secret/data/shop/api-key', { value: 'api-key-1' });

  pki = makeServerPki('injector-e2e-ca');
  writeFileSync(path.join(files.dir, 'tls.crt'), pki.certPem);
  writeFileSync(path.join(files.dir, 'tls.key'), pki.keyPem);
  injector = spawnCli(['injector', '--listen', '127.0.0.1:0', '--coffer-addr', address], {
    COFFER_INJECTOR_TLS_CERT: path.join(files.dir, 'tls.crt'),
    COFFER_INJECTOR_TLS_KEY: path.join(files.dir, 'tls.key'),
    COFFER_INJECTOR_AGENT_IMAGE: 'registry.example.com/coffer:e2e',
  });
  injectorUrl = await waitFor(
    'the injector to listen',
    () => /listening on (https:\/\/\S+)/.exec(injector.output())?.[1],
    {
      detail: injector.output,
    },
  );
});

/** One HTTPS request to the injector, trusting the test's CA alone. */
function post(pathName: string, method: string, body?: unknown) {
  const url = new URL(pathName, injectorUrl);
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      url,
      { method, ca: pki.caPem, headers: body === undefined ? {} : { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const pod: V1Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'shop-web-7d9f',
    namespace: 'shop',
    annotations: {
      'coffer.io/agent-inject': 'true',
      'coffer.io/role': 'web',
      'coffer.io/agent-inject-secret-api-key': 'shop/api-key',
      'coffer.io/agent-inject-template-db.env':
        'DB_USER={{ secret "shop/db" "username" }}\nDB_PASSWORD={{ secret "shop/db" "password" }}\n',
      'coffer.io/agent-inject-file-db.env': 'config/db.env',
    },
  },
  spec: { serviceAccountName: 'web', containers: [{ name: 'app', image: 'registry.example.com/shop:2.3.1' }] },
};

/**
 * Runs an injected container as the kubelet would: the image's entrypoint (`coffer`, the CLI under test) with the
 * container's arguments, its environment,
 * each of its volume mounts a directory of the test. The config names the mount paths; they are the same strings
 * the kubelet would mount, so replacing them is what mounting does.
 */
function runContainer(container: V1Container, mounts: Record<string, string>, once: boolean): Child {
  expect(container.command).toBeUndefined();
  const childEnv: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    let value = variable.value ?? '';
    for (const mount of container.volumeMounts ?? []) value = value.replaceAll(mount.mountPath, mounts[mount.name]!);
    childEnv[variable.name] = value;
  }
  expect(container.args?.includes('--once')).toBe(once);
  return spawnCli(container.args!, childEnv);
}

describe('coffer injector, end to end', () => {
  let injected: V1Pod;
  const mounts = {
    'coffer-secrets': path.join(files.dir, 'volumes/coffer-secrets'),
    'coffer-token': path.join(files.dir, 'volumes/coffer-token'),
  };

  it('answers GET /healthz', async () => {
    expect(await post('/healthz', 'GET')).toEqual({ status: 200, text: 'ok\n' });
  });

  it('answers an AdmissionReview over HTTPS with a JSON patch that gives a valid injected pod', async () => {
    const res = await post('/mutate', 'POST', admissionReviewOf(pod, 'e2e-uid'));
    expect(res.status).toBe(200);
    const { response } = JSON.parse(res.text) as {
      response: { uid: string; allowed: boolean; patchType: string; patch: string };
    };
    expect(response).toMatchObject({ uid: 'e2e-uid', allowed: true, patchType: 'JSONPatch' });
    const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Operation[];
    injected = jsonPatch.applyPatch(structuredClone(pod), patch, true, false).newDocument;
    expect(() => validateKubernetesObject({ apiVersion: 'v1', kind: 'Pod', ...injected } as KubeObject)).not.toThrow();
    expect(injected.spec?.initContainers?.[0]?.image).toBe('registry.example.com/coffer:e2e');
    expect(injected.spec?.containers.map((c) => c.name)).toEqual(['app', 'coffer-agent']);
  });

  it('refuses a pod with an invalid annotation with the reason, over HTTPS', async () => {
    const bad = structuredClone(pod);
    bad.metadata!.annotations!['coffer.io/agent-inject-file-db.env'] = '../../etc/passwd';
    const res = await post('/mutate', 'POST', admissionReviewOf(bad, 'e2e-bad'));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).response).toMatchObject({
      uid: 'e2e-bad',
      allowed: false,
      status: {
        code: 400,
        message: expect.stringContaining('coffer.io/agent-inject-file-db.env must be a relative path'),
      },
    });
  });

  it('runs the injected init container: it logs in with the projected token and renders the files', async () => {
    mkdirSync(mounts['coffer-secrets'], { recursive: true });
    mkdirSync(mounts['coffer-token'], { recursive: true });
    // The kubelet writes the token the projected volume asks for at the `path` it names.
    const projected = injected.spec?.volumes?.find((v) => v.name === 'coffer-token')?.projected?.sources?.[0];
    expect(projected?.serviceAccountToken).toMatchObject({ audience: 'coffer', path: 'token' });
    writeFileSync(path.join(mounts['coffer-token'], 'token'), POD_TOKEN);

    const init = runContainer(injected.spec!.initContainers![0]!, mounts, true);
    expect(await init.exited, init.output()).toBe(0);
    expect(readFileSync(path.join(mounts['coffer-secrets'], 'api-key'), 'utf8')).toBe('api-key-1');
    expect(readFileSync(path.join(mounts['coffer-secrets'], 'config/db.env'), 'utf8')).toBe(
      'DB_USER=shop\nDB_PASSWORD=pw-1\n',
    );
    expect(statSync(path.join(mounts['coffer-secrets'], 'api-key')).mode & 0o777).toBe(0o644);
    // Coffer asked the cluster about the pod's token, for Coffer's audience.
    expect(cluster.received.at(-1)?.body?.spec).toEqual({ token: POD_TOKEN, audiences: ['coffer'] });
    expect(init.output()).not.toContain('pw-1');
    expect(init.output()).not.toContain(POD_TOKEN);
  });

  it('runs the injected sidecar: it re-renders a file when its secret changes', async () => {
    // The sidecar writes only what differs from the volume: without the file, its first render says when it is done.
    const file = path.join(mounts['coffer-secrets'], 'api-key');
    rmSync(file);
    const sidecar = runContainer(injected.spec!.containers.find((c) => c.name === 'coffer-agent')!, mounts, false);
    await waitFor('the sidecar to render', () => /rendered .*api-key/.test(sidecar.output()), {
      detail: sidecar.output,
    });
    expect(readFileSync(file, 'utf8')).toBe('api-key-1');
    const { address, rootToken } = current();
    expect(
      (await api(address, rootToken, 'PUT', '/v1/secret/data/shop/api-key', { value: 'api-key-2' })).status,
    ).toBeLessThan(300);
    // SIGHUP polls at once instead of at the next interval (30 s by default).
    sidecar.child.kill('SIGHUP');
    await waitFor('the new value', () => existsSync(file) && readFileSync(file, 'utf8') === 'api-key-2', {
      detail: sidecar.output,
    });
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
  });

  it('the agent refuses --config-env naming an unset variable, and both --config and --config-env', async () => {
    const unset = await runCli(['agent', '--config-env', 'COFFER_NO_SUCH_CONFIG', '--once']);
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain('$COFFER_NO_SUCH_CONFIG is not set');
    const both = await runCli(['agent', '--config', 'x.json', '--config-env', 'X', '--once']);
    expect(both.stderr).toContain('give one of --config <file> and --config-env <variable>');
  });

  it('refuses bad flags with usage errors before serving', async () => {
    const tls = ['--tls-cert', path.join(files.dir, 'tls.crt'), '--tls-key', path.join(files.dir, 'tls.key')];
    const listen = await runCli(['injector', ...tls, '--listen', '8443', '--coffer-addr', 'https://coffer:8200']);
    expect(listen.code).toBe(2);
    expect(listen.stderr).toContain('--listen takes host:port (e.g. 0.0.0.0:8443), got "8443"');
    const addr = await runCli(['injector', ...tls, '--listen', '127.0.0.1:0', '--coffer-addr', 'coffer:8200']);
    expect(addr.code).toBe(2);
    expect(addr.stderr).toContain('--coffer-addr must be an http(s) URL');
    const ca = path.join(files.dir, 'no-such-ca.pem');
    const noCa = await runCli(['injector', ...tls, '--coffer-addr', 'https://coffer:8200', '--ca-cert', ca]);
    expect(noCa.code).toBe(2);
    expect(noCa.stderr).toContain(`cannot read --ca-cert ${ca}: ENOENT`);
  });

  it('stops on SIGTERM', async () => {
    injector.child.kill('SIGTERM');
    expect(await injector.exited).toBe(0);
    expect(injector.output()).toContain('SIGTERM: stopping');
  });
});
