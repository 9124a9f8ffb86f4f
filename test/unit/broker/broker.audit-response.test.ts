import { describe, expect, it } from 'vitest';
import { SealedCaKeyStore } from '../../../lambdas/adapters/local/pki-keys/sealed-ca-key-store.ts';
import { Broker } from '../../../lambdas/broker/broker.ts';
import { nativeRoutes } from '../../../lambdas/broker/routes/index.ts';
import { PkiService } from '../../../lambdas/engines/pki/pki-service.ts';
import { FakeKeyProvider } from '../../support/fake-key-provider.ts';
import { memoryNode, request } from '../../support/memory-node.ts';

/** A memory node with a PKI engine and a root CA, so the CRL routes answer. */
async function pkiNode() {
  const node = await memoryNode();
  const keyProvider = new FakeKeyProvider();
  const caKeys = new SealedCaKeyStore({ store: node.store, keyProvider, clock: node.deps.clock });
  const pki = new PkiService({
    store: node.store,
    keyProvider,
    caKeys,
    clock: node.deps.clock,
    publicUrl: 'https://coffer.example.test',
  });
  const broker = new Broker({ ...node.deps, pki }, nativeRoutes(), () => {});
  const root = await broker.handle(
    request('POST', '/v1/pki/root/generate', { token: node.rootToken, body: { common_name: 'Root' } }),
  );
  expect(root.status).toBe(201);
  return { ...node, broker };
}

describe('Class: Broker, response records of large public documents', () => {
  it('records the OpenAPI document as omitted, with its status, latency and size', async () => {
    const { broker, sink } = await memoryNode();
    const res = await broker.handle(request('GET', '/v1/openapi.json'));
    expect(res.status).toBe(200);
    const requestId = res.headers['x-request-id'];
    const record = sink.records().find((r) => r.requestId === requestId && r.type === 'response');
    expect(record).toMatchObject({ operation: 'sys.openapi', outcome: 'ok', status: 200 });
    expect(record!.response).toEqual({ omitted: true, bytes: Buffer.byteLength(res.body) });
    expect(typeof record!.latencyMs).toBe('number');
    expect(sink.lines.join('\n')).not.toContain('"openapi":"3.1');
  });

  it('records the DER CRL as omitted with its byte count', async () => {
    const { broker, sink } = await pkiNode();
    const res = await broker.handle(request('GET', '/v1/pki/crl'));
    expect(res.status).toBe(200);
    const record = sink.records().find((r) => r.requestId === res.headers['x-request-id'] && r.type === 'response');
    expect(record!.response).toEqual({ omitted: true, bytes: res.bytes!.length });
  });

  it('records the PEM CRL as omitted', async () => {
    const { broker, sink } = await pkiNode();
    const res = await broker.handle(request('GET', '/v1/pki/crl/info'));
    expect(res.status).toBe(200);
    const record = sink.records().find((r) => r.requestId === res.headers['x-request-id'] && r.type === 'response');
    expect(record!.response).toEqual({ omitted: true, bytes: Buffer.byteLength(res.body) });
  });

  it('still records the body of an ordinary answer', async () => {
    const { broker, sink } = await memoryNode();
    const res = await broker.handle(request('GET', '/v1/sys/health'));
    const record = sink.records().find((r) => r.requestId === res.headers['x-request-id'] && r.type === 'response');
    expect(record!.response).toMatchObject({ status: 'ok' });
  });
});
