import { describe, expect, it } from 'vitest';
import { parseKubernetesSecrets } from '../../../../../../lambdas/entrypoints/cli/import/sources/k8s.ts';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

describe('parseKubernetesSecrets', () => {
  it('reads every Secret of a multi-document manifest, data as base64 and stringData, and passes over other kinds', () => {
    const manifest = [
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n',
      `apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\ndata:\n  password: ${b64('hunter2')}\nstringData:\n  user: app\n`,
      `apiVersion: v1\nkind: Secret\nmetadata:\n  name: tls\ntype: kubernetes.io/tls\ndata:\n  tls.key: ${b64(Buffer.from([0xff, 0x00, 0xfe]))}\n`,
    ].join('---\n');
    const items = parseKubernetesSecrets(manifest);
    expect(items.map((i) => [i.key, i.vars, i.versions[0]?.value])).toEqual([
      [
        'prod/db#password',
        { source: 'prod/db', namespace: 'prod', name: 'db', key: 'password' },
        { string: 'hunter2' },
      ],
      ['prod/db#user', { source: 'prod/db', namespace: 'prod', name: 'db', key: 'user' }, { string: 'app' }],
      [
        'default/tls#tls.key',
        { source: 'default/tls', namespace: 'default', name: 'tls', key: 'tls.key' },
        { binary: Buffer.from([0xff, 0x00, 0xfe]) },
      ],
    ]);
    expect(items[0]!.tags).toEqual({ 'k8s.namespace': 'prod', 'k8s.secret': 'db' });
  });

  it('lets stringData win over data for the same key, as the API server does', () => {
    const items = parseKubernetesSecrets(
      `apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: ${b64('old')}}\nstringData: {k: new}\n`,
    );
    expect(items.map((i) => i.versions[0]?.value)).toEqual([{ string: 'new' }]);
  });

  it('refuses data that is not base64, and YAML that does not parse, without quoting the text', () => {
    expect(() =>
      parseKubernetesSecrets('apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: "not base64!"}\n', 'f.yaml'),
    ).toThrow('f.yaml: default/s: data.k is not base64');
    let message = '';
    try {
      parseKubernetesSecrets('apiVersion: v1\nkind: Secret\nstringData: {k: "s3cr3t\n', 'f.yaml');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^f\.yaml: document 1 is not valid YAML/);
    expect(message).not.toContain('s3cr3t');
  });

  it('refuses a Secret without a name', () => {
    expect(() => parseKubernetesSecrets('apiVersion: v1\nkind: Secret\nmetadata: {}\n', 'f.yaml')).toThrow(
      /document 1 is not a Secret manifest: metadata\.name/,
    );
  });

  it('skips an empty value and says so', () => {
    const [item] = parseKubernetesSecrets('apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: ""}\n');
    expect(item!.versions).toEqual([]);
    expect(item!.unavailable).toEqual(['empty value']);
  });
});
