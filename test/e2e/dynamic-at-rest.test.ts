import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { canLogin, startPostgres } from '../support/postgres.ts';
import { api, startServer, tempDir } from '../support/server-process.ts';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : [full];
  });
}

describe('No dynamic credential at rest', () => {
  it('keeps issued passwords out of the data dir, the logs and the audit log (which holds only their HMAC)', async () => {
    const pgServer = await startPostgres();
    const tmp = tempDir();
    const dataDir = path.join(tmp.dir, 'data');
    const server = await startServer(dataDir, { COFFER_LEASE_SWEEP_INTERVAL_MS: '100' });
    const passwords: string[] = [];
    const hashes: string[] = [];
    try {
      const call = (method: string, url: string, body?: unknown) =>
        api(server.address, server.rootToken, method, url, body);
      const admin = JSON.stringify({ username: pgServer.adminUser, password: pgServer.adminPassword });
      expect((await call('PUT', '/v1/secret/data/db/admin', { value: admin })).status).toBe(200);
      const config = {
        host: pgServer.host,
        port: pgServer.port,
        database: pgServer.database,
        admin_secret: 'db/admin',
      };
      expect((await call('PUT', '/v1/database/config/main', config)).status).toBe(200);
      expect((await call('PUT', '/v1/database/roles/app', { db_name: 'main' })).status).toBe(200);
      expect((await call('PUT', '/v1/database/roles/short', { db_name: 'main', default_ttl: 1 })).status).toBe(200);
      const leaseIds: string[] = [];
      for (const [i, role] of ['app', 'app', 'app', 'short', 'app'].entries()) {
        const issued = await (i % 2 === 0
          ? call('GET', `/v1/database/creds/${role}`)
          : call('POST', `/v1/database/creds/${role}`, {}));
        expect(issued.status).toBe(200);
        const { username, password, leaseId } = issued.body as { username: string; password: string; leaseId: string };
        expect(await canLogin(pgServer, username, password)).toBe(true);
        passwords.push(password);
        leaseIds.push(leaseId);
        const hash = await call('POST', '/v1/sys/audit/hash', { input: password });
        hashes.push(String(hash.body.hash));
      }
      expect((await call('POST', '/v1/sys/leases/renew', { leaseId: leaseIds[0] })).status).toBe(200);
      expect((await call('POST', '/v1/sys/leases/revoke', { leaseId: leaseIds[1] })).status).toBe(200);
    } finally {
      await server.stop();
    }
    try {
      const files = filesUnder(dataDir);
      expect(files.some((f) => f.endsWith('audit.log'))).toBe(true);
      const audit = readFileSync(files.find((f) => f.endsWith('audit.log'))!, 'utf8');
      // The audit log records each issue, with the password's HMAC in place of the password.
      for (const hash of hashes) expect(audit).toContain(hash);
      const haystacks: [string, Buffer][] = files
        .filter((f) => statSync(f).isFile())
        .map((f): [string, Buffer] => [f, readFileSync(f)]);
      haystacks.push(['server output', Buffer.from(server.output(), 'utf8')]);
      for (const password of passwords) {
        const needles = [
          Buffer.from(password, 'utf8'),
          Buffer.from(password, 'utf16le'),
          Buffer.from(Buffer.from(password).toString('base64').slice(0, 16)),
        ];
        for (const [where, bytes] of haystacks) {
          for (const needle of needles) expect(bytes.includes(needle), `${where} holds an issued password`).toBe(false);
        }
      }
    } finally {
      await pgServer.stop();
      tmp.cleanup();
    }
  });
});
