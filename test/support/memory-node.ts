import { randomBytes } from 'node:crypto';
import { MemoryAuditSink } from '../../lambdas/adapters/memory/memory-audit-sink.ts';
import { MemoryStore } from '../../lambdas/adapters/memory/memory-store.ts';
import { Broker } from '../../lambdas/broker/broker.ts';
import type { BrokerDeps } from '../../lambdas/broker/broker-deps.ts';
import { API_VERSION, nativeRoutes } from '../../lambdas/broker/routes/index.ts';
import { AuditHasher } from '../../lambdas/core/audit/audit-hmac.ts';
import { AuditLog } from '../../lambdas/core/audit/audit-log.ts';
import { TokenService } from '../../lambdas/core/auth/token/token-service.ts';
import { PolicyService } from '../../lambdas/core/policy/policy-service.ts';
import type { Clock } from '../../lambdas/core/ports/clock.ts';
import { FakeKeyProvider } from './fake-key-provider.ts';
import { regionalSecretsDeps } from './regional-secrets.ts';

/** A whole broker on in-memory adapters, for fast tests of routing, auth, policy and audit wiring. */
export async function memoryNode(clock: Clock = { now: () => Date.now() }) {
  const store = new MemoryStore();
  const sink = new MemoryAuditSink();
  const audit = new AuditLog({ sink, hasher: new AuditHasher(randomBytes(32)) });
  const tokens = new TokenService({ store, clock });
  const { replicator, ...regional } = regionalSecretsDeps({ store, keyProvider: new FakeKeyProvider(), clock });
  const deps: BrokerDeps = {
    ...regional,
    tokens,
    policies: new PolicyService({ store, clock }),
    audit,
    clock,
    system: { version: API_VERSION, runtime: 'local' },
  };
  const broker = new Broker(deps, nativeRoutes(), () => {});
  const { token: rootToken } = await tokens.createRoot();
  return { broker, deps, store, sink, rootToken, replicator };
}

/** Builds a BrokerRequest with JSON body and a token. */
export function request(
  method: string,
  rawPath: string,
  options: { token?: string; body?: unknown; query?: Record<string, string>; sourceIp?: string } = {},
) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.token !== undefined) headers['x-coffer-token'] = options.token;
  return {
    method,
    rawPath,
    query: options.query ?? {},
    headers,
    body:
      options.body === undefined
        ? undefined
        : Buffer.from(typeof options.body === 'string' ? options.body : JSON.stringify(options.body)),
    sourceIp: options.sourceIp ?? '127.0.0.1',
  };
}
