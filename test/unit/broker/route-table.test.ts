import { describe, expect, it } from 'vitest';
import { defineRoute } from '../../../lambdas/broker/route.ts';
import { RouteTable } from '../../../lambdas/broker/route-table.ts';

const route = (method: 'GET' | 'PUT', path: string) =>
  defineRoute({
    operation: `${method} ${path}`,
    method,
    path,
    summary: '',
    mutating: false,
    handle: async () => ({ body: {} }),
  });

describe('Class: RouteTable', () => {
  const table = new RouteTable([
    route('GET', '/v1/secret/data/{name+}'),
    route('GET', '/v1/sys/policies/{name}'),
    route('PUT', '/v1/sys/policies/{name}'),
  ]);

  it('captures the rest of the path, slashes included, decoding once', () => {
    const match = table.match('GET', '/v1/secret/data/a/b%2Fc');
    expect(match).toMatchObject({ kind: 'found', params: { name: 'a/b/c' } });
  });

  it('does not match a percent-encoded literal segment', () => {
    expect(table.match('GET', '/v1/secret/%64ata/x').kind).toBe('none');
  });

  it('keeps an undecodable parameter raw and names it, so the broker refuses it rather than repair it', () => {
    expect(table.match('GET', '/v1/secret/data/a%zz')).toMatchObject({ params: { name: 'a%zz' }, malformed: 'name' });
    for (const raw of ['%ED%A0%80', '%FF', '%C0%AF', '%E2%82']) {
      expect(table.match('GET', `/v1/secret/data/${raw}`)).toMatchObject({ kind: 'found', malformed: 'name' });
    }
    expect(table.match('GET', '/v1/secret/data/%C3%A9')).not.toHaveProperty('malformed');
  });

  it('matches single-segment parameters only on one segment', () => {
    expect(table.match('GET', '/v1/sys/policies/a/b').kind).toBe('none');
    expect(table.match('GET', '/v1/sys/policies/').kind).toBe('none');
  });

  it('reports a method mismatch separately from an unknown path', () => {
    expect(table.match('DELETE', '/v1/sys/policies/a').kind).toBe('method');
  });

  it('refuses duplicate routes', () => {
    expect(() => new RouteTable([route('GET', '/x'), route('GET', '/x')])).toThrow(/duplicate/);
  });
});

describe('Class: RouteTable, X-Amz-Target dispatch', () => {
  const target = (name: string) =>
    defineRoute({
      operation: name,
      target: name,
      protocol: 'aws-json',
      method: 'POST',
      path: '/',
      summary: '',
      mutating: false,
      handle: async () => ({ body: {} }),
    });
  const table = new RouteTable([route('GET', '/v1/sys/health'), target('svc.A'), target('svc.B')]);

  it('picks the operation by target on the dispatch path only', () => {
    const match = table.match('POST', '/', 'svc.B');
    expect(match.kind === 'found' && match.route.operation).toBe('svc.B');
    expect(table.match('GET', '/v1/sys/health', 'svc.A').kind).toBe('found');
  });

  it('reports a missing or unknown target, and a wrong method', () => {
    expect(table.match('POST', '/', undefined)).toEqual({ kind: 'target', target: undefined });
    expect(table.match('POST', '/', 'svc.C')).toEqual({ kind: 'target', target: 'svc.C' });
    expect(table.match('POST', '/', '__proto__')).toEqual({ kind: 'target', target: '__proto__' });
    expect(table.match('GET', '/', 'svc.A').kind).toBe('method');
  });

  it('refuses duplicate targets and path routes that collide with dispatch', () => {
    expect(() => new RouteTable([target('svc.A'), target('svc.A')])).toThrow(/duplicate target/);
    expect(() => new RouteTable([target('svc.A'), route('GET', '/')])).toThrow(/collides/);
  });
});
