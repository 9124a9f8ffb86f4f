import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AllowedHosts } from '../../../lambdas/core/auth/allowed-hosts.ts';
import { listenerTransport, loadLocalConfig } from '../../../lambdas/entrypoints/local/config.ts';
import { servedHosts } from '../../../lambdas/entrypoints/local/served-names.ts';
import { type KubeObject, renderKustomization } from '../../support/kustomize.ts';
import { type ContainerEnvSpec, containerEnvironment } from '../../support/pod-env.ts';

const KUBERNETES = path.resolve(import.meta.dirname, '../../../deploy/kubernetes');
const POD = { 'metadata.name': 'coffer-1', 'metadata.namespace': 'coffer' };
/** What the HA overlay's Secrets would hold (no password: it is a mounted file). */
const SECRETS = { 'coffer-store/url': 'postgres://coffer@postgres.db.svc:5432/coffer?sslmode=verify-full' };

/** The server's configuration as `coffer server` reads it from the StatefulSet's environment. */
function serverConfig(kustomization: string) {
  const set = renderKustomization(path.join(KUBERNETES, kustomization)).find(
    (object) => object.kind === 'StatefulSet',
  ) as KubeObject & { spec: { template: { spec: { containers: (ContainerEnvSpec & { args: string[] })[] } } } };
  const container = set.spec.template.spec.containers[0]!;
  expect(container.args).toEqual(['server']);
  const env = containerEnvironment(container, { fields: POD, secrets: SECRETS });
  return { env, config: loadLocalConfig(env) };
}

describe.each(['base', 'overlays/single-node', 'overlays/ha'])("the server's configuration in %s", (name) => {
  const { env, config } = serverConfig(name);

  it('is one coffer server accepts, listening on every address over TLS with the mounted certificate', () => {
    expect(config).toMatchObject({ host: '0.0.0.0', port: 8270, dataDir: '/var/lib/coffer/data' });
    expect(listenerTransport(config)).toEqual({
      kind: 'files',
      cert: '/etc/coffer/tls/tls.crt',
      key: '/etc/coffer/tls/tls.key',
    });
    expect(config.publicUrl).toBe('https://coffer.coffer.svc:8270');
  });

  it("answers the Services' names, its own pod name and loopback (the probes), and no other Host", () => {
    const hosts = new AllowedHosts(servedHosts(config));
    for (const host of [
      'coffer:8270',
      'coffer.coffer',
      'coffer.coffer.svc:8270',
      'coffer.coffer.svc.cluster.local',
      'coffer-1.coffer-internal.coffer.svc:8270',
      'localhost:8270',
    ]) {
      expect(hosts.allows(host), host).toBe(true);
    }
    for (const host of ['coffer-0.coffer-internal.coffer.svc', '10.1.2.3:8270', 'coffer.other.svc']) {
      expect(hosts.allows(host), host).toBe(false);
    }
  });

  it('audits everything but the probes, and reaches out only to the API server', () => {
    expect(config.auditExclude).toEqual(['sys.health']);
    expect(config.egressAllow).toBe('kubernetes.default.svc:443');
    expect(env.COFFER_PASSPHRASE).toBeUndefined();
  });
});

describe('the server passphrase', () => {
  it('comes from the coffer-passphrase Secret when it exists', () => {
    const set = renderKustomization(path.join(KUBERNETES, 'base')).find((object) => object.kind === 'StatefulSet') as
      | (KubeObject & { spec: { template: { spec: { containers: ContainerEnvSpec[] } } } })
      | undefined;
    const env = containerEnvironment(set!.spec.template.spec.containers[0]!, {
      fields: POD,
      secrets: { 'coffer-passphrase/passphrase': 'correct horse battery' },
    });
    expect(loadLocalConfig(env).passphrase).toBe('correct horse battery');
  });
});

describe('the HA overlay', () => {
  it('runs every node on the shared PostgreSQL store with the mounted keyring; single-node overlays keep SQLite', () => {
    const ha = serverConfig('overlays/ha').config;
    expect(ha.storeUrl).toBe(SECRETS['coffer-store/url']);
    expect(ha.storePasswordFile).toEqual(expect.stringMatching(/^\//));
    expect(ha.keyringFile).toEqual(expect.stringMatching(/^\//));
    for (const name of ['base', 'overlays/single-node']) {
      const config = serverConfig(name).config;
      expect(config.storeUrl).toBeUndefined();
      expect(config.keyringFile).toBeUndefined();
    }
  });
});
