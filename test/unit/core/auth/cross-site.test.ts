import { describe, expect, it } from 'vitest';
import { crossSiteRefusal } from '../../../../lambdas/core/auth/cross-site.ts';

const HOST = '127.0.0.1:8270';
const post = (headers: Record<string, string>, method = 'POST') =>
  crossSiteRefusal({ method, scheme: 'http', headers: { host: HOST, ...headers } });

describe('crossSiteRefusal', () => {
  it('lets clients that send neither Origin nor Sec-Fetch-Site through (CLI, SDK, curl)', () => {
    expect(post({})).toBeUndefined();
  });

  it('lets the console on the same origin write', () => {
    expect(post({ origin: `http://${HOST}`, 'sec-fetch-site': 'same-origin' })).toBeUndefined();
    expect(post({ 'sec-fetch-site': 'none' })).toBeUndefined();
  });

  it.each(['cross-site', 'same-site'])('refuses a write the browser says is %s', (site) => {
    expect(post({ 'sec-fetch-site': site })).toBe(`a ${site} request may not change anything here`);
  });

  it('refuses a write from another origin, from an opaque origin, and over the other scheme', () => {
    expect(post({ origin: 'https://evil.example' })).toBe('the Origin https://evil.example is not this server');
    expect(post({ origin: 'null' })).toBe('the Origin null is not this server');
    expect(post({ origin: `https://${HOST}` })).toBe(`the Origin https://${HOST} is not this server`);
    expect(post({ origin: 'http://127.0.0.1:9999' })).toBe('the Origin http://127.0.0.1:9999 is not this server');
  });

  it.each(['PUT', 'PATCH', 'DELETE', 'post'])('treats %s as a write', (method) => {
    expect(post({ 'sec-fetch-site': 'cross-site' }, method)).toBeDefined();
  });

  it('lets reads through whatever their origin: without the token in a header they answer 401, unreadable cross-origin', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      expect(post({ origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, method)).toBeUndefined();
    }
  });

  it('refuses an Origin when the request names no Host to compare it with', () => {
    expect(crossSiteRefusal({ method: 'POST', scheme: 'http', headers: { origin: `http://${HOST}` } })).toBeDefined();
  });

  it('keeps a long Origin short in its message', () => {
    expect(post({ origin: `https://${'a'.repeat(500)}.example` })!.length).toBeLessThan(260);
  });

  it("accepts the server's public origin, as a browser behind a TLS-terminating proxy names it", () => {
    const request = {
      method: 'POST',
      scheme: 'http' as const,
      headers: { host: 'coffer.example.com', origin: 'https://coffer.example.com' },
    };
    expect(crossSiteRefusal(request)).toBeDefined();
    expect(crossSiteRefusal({ ...request, ownOrigins: ['https://coffer.example.com'] })).toBeUndefined();
    expect(
      crossSiteRefusal({
        ...request,
        headers: { ...request.headers, origin: 'https://evil.example' },
        ownOrigins: ['https://coffer.example.com'],
      }),
    ).toBeDefined();
  });
});
