import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api, runCli } from '../support/server-process.ts';
import { useServer } from '../support/use-server.ts';
import { openssl, scratch } from '../unit/engines/pki/fixtures.ts';

const current = useServer();
const files = scratch();
afterAll(() => files.cleanup());

const cli = (args: string[]) =>
  runCli(args, { env: { COFFER_ADDR: current().address, COFFER_TOKEN: current().rootToken } });
const at = (name: string) => path.join(files.dir, name);

describe('coffer pki against a real server', () => {
  it('builds a CA, issues and signs, revokes with a CRL, tidies, and survives a keyring rotation', async () => {
    const root = await cli(['pki', 'root', 'generate', '--common-name', 'E2E Root', '--cert-out', at('root.pem')]);
    expect(root.code, root.stderr).toBe(0);
    const inter = await cli([
      'pki',
      'intermediate',
      'generate',
      '--common-name',
      'E2E Intermediate',
      '--sign-with-root',
    ]);
    expect(inter.code, inter.stderr).toBe(0);
    const role = await cli([
      'pki',
      'role',
      'put',
      'web',
      '--allowed-domains',
      'example.com',
      '--allow-subdomains',
      '--max-ttl',
      '24h',
      '--ttl',
      '1h',
    ]);
    expect(role.code, role.stderr).toBe(0);
    const got = JSON.parse((await cli(['pki', 'role', 'get', 'web', '-o', 'json'])).stdout);
    expect(got).toMatchObject({ allowed_domains: ['example.com'], allow_subdomains: true, max_ttl: 86_400, ttl: 3600 });

    const issued = await cli([
      'pki',
      'issue',
      'web',
      '--common-name',
      'a.example.com',
      '--alt-names',
      'b.example.com',
      '--cert-out',
      at('leaf.pem'),
      '--key-out',
      at('leaf.key'),
      '--chain-out',
      at('chain.pem'),
      '-o',
      'json',
    ]);
    expect(issued.code, issued.stderr).toBe(0);
    const issuedJson = JSON.parse(issued.stdout) as { serial_number: string; private_key?: string };
    // Written to --key-out (0600), so not printed.
    expect(issuedJson.private_key).toBeUndefined();
    expect(statSync(at('leaf.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(at('leaf.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    // The server runs on a random port with no COFFER_PUBLIC_URL: the certificate names the CRL that server serves.
    const leafText = openssl(['x509', '-in', at('leaf.pem'), '-noout', '-text']);
    expect(leafText.output).toContain(`URI:${current().address}/v1/pki/crl`);
    expect((await cli(['pki', 'ca', '--out', at('ca.pem')])).code).toBe(0);
    const inter1 = readFileSync(at('chain.pem'), 'utf8').split(/(?<=-----END CERTIFICATE-----\n)/)[0]!;
    const interFile = files.write('inter.pem', inter1);
    expect(openssl(['verify', '-CAfile', at('root.pem'), '-untrusted', interFile, at('leaf.pem')]).output).toContain(
      ': OK',
    );

    // sign: a CSR made by openssl req.
    expect(
      openssl([
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        at('csr.key'),
        '-subj',
        '/CN=csr.example.com',
        '-out',
        at('req.csr'),
      ]).status,
    ).toBe(0);
    const signed = await cli(['pki', 'sign', 'web', '--csr', at('req.csr'), '--cert-out', at('signed.pem')]);
    expect(signed.code, signed.stderr).toBe(0);
    expect(openssl(['verify', '-CAfile', at('root.pem'), '-untrusted', interFile, at('signed.pem')]).output).toContain(
      ': OK',
    );

    // A foreign name is refused, with the rule, and the documented "denied" exit code.
    const foreign = await cli(['pki', 'issue', 'web', '--common-name', 'evil.org']);
    expect(foreign.code).toBe(4);
    expect(foreign.stderr).toContain('name "evil.org" is not allowed by the role');
    const tooLong = await cli(['pki', 'issue', 'web', '--common-name', 'c.example.com', '--ttl', '48h']);
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toContain('max_ttl');

    // Revoke; the CRL served without a token lists it and openssl refuses the chain with it.
    const revoked = await cli(['pki', 'revoke', issuedJson.serial_number]);
    expect(revoked.code, revoked.stderr).toBe(0);
    // The distribution point serves DER, as RFC 5280 asks of HTTP CRL URIs; openssl reads it as such.
    const crlRes = await fetch(`${current().address}/v1/pki/crl`);
    expect(crlRes.status).toBe(200);
    expect(crlRes.headers.get('content-type')).toBe('application/pkix-crl');
    const derFile = files.write('crl.der', Buffer.from(await crlRes.arrayBuffer()));
    const crlFile = at('crl.pem');
    expect(openssl(['crl', '-inform', 'DER', '-in', derFile, '-out', crlFile]).status).toBe(0);
    const check = openssl([
      'verify',
      '-crl_check',
      '-CAfile',
      at('root.pem'),
      '-untrusted',
      interFile,
      '-CRLfile',
      crlFile,
      at('leaf.pem'),
    ]);
    expect(check.output).toContain('certificate revoked');
    const stillGood = openssl([
      'verify',
      '-crl_check',
      '-CAfile',
      at('root.pem'),
      '-untrusted',
      interFile,
      '-CRLfile',
      crlFile,
      at('signed.pem'),
    ]);
    expect(stillGood.output).toContain(': OK');
    expect((await cli(['pki', 'crl', '--out', at('crl2.pem')])).code).toBe(0);
    expect(readFileSync(at('crl2.pem'), 'utf8')).toMatch(/^-----BEGIN X509 CRL-----/);

    const tidy = await cli(['pki', 'tidy', '-o', 'json']);
    expect(JSON.parse(tidy.stdout)).toEqual({ removed: 0, removed_from_crl: 0 });

    // After a root-key rotation (old key retired) the sealed CA keys still sign.
    const rotated = await api(current().address, current().rootToken, 'POST', '/v1/sys/keyring/rotate');
    expect(rotated.status).toBe(200);
    const after = await cli(['pki', 'issue', 'web', '--common-name', 'after.example.com', '-o', 'json']);
    expect(after.code, after.stderr).toBe(0);
    // ~15 CLI processes, each a fresh Node start: slow on a small shared machine, not a timed assertion.
  }, 300_000);
});
