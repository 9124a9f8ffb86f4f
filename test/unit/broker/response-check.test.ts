import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { SecretRead } from '../../../lambdas/api/secrets.ts';
import { Broker } from '../../../lambdas/broker/broker.ts';
import { CHECK_RESPONSES, checkResponse, ResponseShapeError } from '../../../lambdas/broker/response-check.ts';
import { defineRoute } from '../../../lambdas/broker/route.ts';
import { memoryNode, request } from '../../support/memory-node.ts';

const SECRET = 'hunter2-do-not-print';

const readRoute = defineRoute({
  operation: 'secret.read',
  method: 'GET',
  path: '/v1/secret/data/{name+}',
  summary: 'test',
  mutating: false,
  response: SecretRead,
  async handle() {
    return {
      body: { name: 'a', arn: 'arn', versionId: 'v1', versionStages: ['AWSCURRENT'], createdAt: 'now', value: SECRET },
    };
  },
});

const answer = { name: 'a', arn: 'arn', versionId: 'v1', versionStages: ['AWSCURRENT'], createdAt: 'now' };

function shapeError(run: () => void): ResponseShapeError {
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ResponseShapeError);
    expect(stderr).toHaveBeenCalledOnce();
    expect(String(stderr.mock.calls[0]?.[0])).not.toContain(SECRET);
    return err as ResponseShapeError;
  } finally {
    stderr.mockRestore();
  }
  throw new Error('expected a ResponseShapeError');
}

describe('Function: checkResponse', () => {
  it('is on under vitest', () => {
    expect(CHECK_RESPONSES).toBe(true);
  });

  it('accepts an answer of the declared shape and status', () => {
    expect(() => checkResponse(readRoute, 200, { ...answer, value: SECRET })).not.toThrow();
  });

  it('refuses a member of the wrong type, naming where without the value', () => {
    const err = shapeError(() => checkResponse(readRoute, 200, { ...answer, versionId: SECRET.length, value: 7 }));
    expect(err.message).toContain('secret.read');
    expect(err.message).toContain('versionId (invalid_type)');
    expect(err.message).toContain('value (invalid_type)');
  });

  it('refuses a missing member', () => {
    const { arn: _arn, ...withoutArn } = answer;
    expect(shapeError(() => checkResponse(readRoute, 200, withoutArn)).message).toContain('arn (invalid_type)');
  });

  it('refuses a member the schema does not name, even nested, without its value', () => {
    const err = shapeError(() => checkResponse(readRoute, 200, { ...answer, password: SECRET }));
    expect(err.message).toContain('password (not in the schema)');
    expect(err.message).not.toContain(SECRET);
    const nested = defineRoute({
      ...readRoute,
      response: z.object({ items: z.array(z.object({ id: z.string() })) }),
      async handle() {
        return { body: { items: [] } };
      },
    });
    expect(shapeError(() => checkResponse(nested, 200, { items: [{ id: 'x', key: SECRET }] })).message).toContain(
      'items.0.key (not in the schema)',
    );
  });

  it('ignores members left undefined (JSON drops them)', () => {
    expect(() => checkResponse(readRoute, 200, { ...answer, binary: undefined })).not.toThrow();
  });

  it('refuses a status the route does not declare', () => {
    expect(shapeError(() => checkResponse(readRoute, 201, answer)).message).toContain('status 201 is not declared');
  });

  it('fails the request with a bare 500 in the broker, the value nowhere in the answer', async () => {
    const leaky = defineRoute({
      operation: 'sys.health',
      method: 'GET',
      path: '/v1/sys/health',
      summary: 'test',
      auth: 'none',
      mutating: false,
      response: z.object({ status: z.string() }),
      resource: () => 'sys/health',
      // A handler that would answer more than its schema names (forced past the type check, as a bug would be).
      handle: (async () => ({ body: { status: 'ok', token: SECRET } })) as never,
    });
    const { deps } = await memoryNode();
    const broker = new Broker(deps, [leaky], () => {});
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const res = await broker.handle(request('GET', '/v1/sys/health'));
      expect(res.status).toBe(500);
      expect(res.body).not.toContain(SECRET);
      expect(stderr.mock.calls.map(([line]) => String(line)).join('')).not.toContain(SECRET);
    } finally {
      stderr.mockRestore();
    }
  });
});
