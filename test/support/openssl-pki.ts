import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Writes, into `dir`, a CA (`ca.crt`, `ca.key`), a server certificate for 127.0.0.1 and localhost it signed
 * (`server.crt`, `server.key`) and an unrelated CA (`other.crt`), each valid two days, made by openssl for a test
 * daemon's TLS.
 */
export function writeServerCertificates(dir: string, options: { readonly caName: string; readonly key: 'rsa' | 'ec' }) {
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key =
    options.key === 'rsa'
      ? ['-newkey', 'rsa:2048', '-nodes']
      : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const days = ['-days', '2'];
  openssl(['req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.crt', ...days, '-subj', `/CN=${options.caName}`]);
  openssl(['req', '-x509', ...key, '-keyout', 'other.key', '-out', 'other.crt', ...days, '-subj', '/CN=another CA']);
  openssl(['req', ...key, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const ca = ['-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'];
  openssl(['x509', '-req', '-in', 'server.csr', ...ca, '-out', 'server.crt', ...days, '-extfile', 'server.ext']);
}
