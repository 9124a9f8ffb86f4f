import { afterEach, describe, expect, it, vi } from 'vitest';
import { Broker, describeError } from '../../../lambdas/broker/broker.ts';
import { defineRoute } from '../../../lambdas/broker/route.ts';
import { DependencyUnavailableError, InternalError } from '../../../lambdas/core/errors.ts';
import { memoryNode, request } from '../../support/memory-node.ts';

const CANARY = 'canary-value-in-a-driver-message';

function failingRoute(error: unknown) {
  return defineRoute({
    operation: 'test.fails',
    method: 'GET',
    path: '/v1/test/fails',
    summary: 'fails',
    mutating: false,
    access: () => ({ path: 'test/fails', capability: 'read' }),
    async handle(): Promise<never> {
      throw error;
    },
  });
}

describe('Broker: reporting server errors', () => {
  afterEach(() => vi.restoreAllMocks());

  it('logs a 5xx with its request id, operation and named error chain, and answers nothing of it', async () => {
    const { deps, rootToken } = await memoryNode();
    const driver = Object.assign(new Error(CANARY), { name: 'CredentialsProviderError' });
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const broker = new Broker(deps, [failingRoute(new InternalError('STS AssumeRole failed', { cause: driver }))]);
    const res = await broker.handle(request('GET', '/v1/test/fails', { token: rootToken }));
    vi.restoreAllMocks();

    expect(res.status).toBe(500);
    expect(JSON.parse(res.body).error.message).toBe('internal error');
    const log = written.join('');
    expect(log).toContain(
      `request ${res.headers['x-request-id']} test.fails failed: InternalError (internal): STS AssumeRole failed; caused by CredentialsProviderError`,
    );
    expect(log).not.toContain(CANARY);
  });

  it('answers a dependency unavailable past its retries with 503 and Retry-After', async () => {
    const { deps, rootToken } = await memoryNode();
    const error = new DependencyUnavailableError(
      'DynamoDB write is unavailable (ThrottlingException) after retries; nothing was written: retry later',
      { details: { dependency: 'DynamoDB' } },
    );
    const broker = new Broker(deps, [failingRoute(error)]);
    const res = await broker.handle(request('GET', '/v1/test/fails', { token: rootToken }));

    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(JSON.parse(res.body).error).toMatchObject({ code: 'dependency_unavailable', message: error.message });
  });

  it('names errors that are not Errors by their type', () => {
    expect(describeError('text')).toBe('string');
    expect(describeError(new TypeError('x'))).toBe('TypeError');
  });
});
