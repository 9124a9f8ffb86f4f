import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { DAY, pkiFixture, withChain } from './fixtures.ts';

/** A TLS server presenting `cert` + chain; resolves with the client's outcome. */
async function handshake(
  server: { key: string; cert: string },
  client: { ca: string; servername: string },
): Promise<{ ok: true; reply: string } | { ok: false; error: string }> {
  const srv = tls.createServer({ key: server.key, cert: server.cert }, (socket) => socket.end('hello over tls'));
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as AddressInfo;
  try {
    return await new Promise((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ca: client.ca, servername: client.servername }, () => {
        let reply = '';
        socket.on('data', (chunk: Buffer) => (reply += chunk.toString()));
        socket.on('end', () => resolve({ ok: true, reply }));
      });
      socket.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, error: err.code ?? err.message }));
    });
  } finally {
    srv.close();
  }
}

describe('TLS with issued certificates', () => {
  it('a node:tls client trusting only our root completes a handshake with a server using an issued certificate', async () => {
    const { pki } = pkiFixture();
    const { root } = await withChain(pki);
    const issued = await pki.issue('web', { common_name: 'tls.example.com' });
    const server = { key: issued.private_key, cert: issued.certificate + issued.ca_chain[0]! };
    const outcome = await handshake(server, { ca: root, servername: 'tls.example.com' });
    expect(outcome).toEqual({ ok: true, reply: 'hello over tls' });

    // The same client refuses a name the certificate does not carry.
    const wrongName = await handshake(server, { ca: root, servername: 'other.example.com' });
    expect(wrongName).toEqual({ ok: false, error: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('a client trusting a foreign CA refuses the handshake', async () => {
    const { pki } = pkiFixture();
    await withChain(pki);
    const { pki: foreign } = pkiFixture();
    const foreignRoot = await foreign.generateRoot({ common_name: 'Foreign Root', key_type: 'ec-p256', ttl: DAY });
    const issued = await pki.issue('web', { common_name: 'tls.example.com' });
    const outcome = await handshake(
      { key: issued.private_key, cert: issued.certificate + issued.ca_chain[0]! },
      { ca: foreignRoot.certificate, servername: 'tls.example.com' },
    );
    expect(outcome.ok).toBe(false);
    expect(outcome).toMatchObject({
      error: expect.stringMatching(/UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED|UNABLE_TO_VERIFY/),
    });
  });
});
