import { describe, expect, it } from 'vitest';
import { JwksKeySource, StaticKeySource } from '../../../../../lambdas/core/auth/jwt/jwt-keys.ts';
import { InternalError } from '../../../../../lambdas/core/errors.ts';
import { githubClaims, makeKey } from './jwt-test-issuer.ts';

const NOW = Date.UTC(2026, 11, 7, 6, 0, 0);
const options = { algorithms: ['RS256', 'ES256'], currentDate: new Date(NOW) };

/** A fetch answering from `respond`, counting its calls. */
function fakeFetch(respond: () => Response | Promise<Response>) {
  const calls: string[] = [];
  const fetchImpl = (async (input: Parameters<typeof fetch>[0]) => {
    calls.push(String(input));
    return respond();
  }) as typeof fetch;
  return { calls, fetchImpl };
}

describe('Class: JwksKeySource', () => {
  it('shares one fetch between concurrent logins', async () => {
    const key = await makeKey('ES256');
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { calls, fetchImpl } = fakeFetch(async () => {
      await gate;
      return Response.json({ keys: [key.jwk] });
    });
    const source = new JwksKeySource('https://issuer.example.com/jwks', { fetch: fetchImpl, now: () => NOW });
    const jwt = await key.sign(githubClaims(NOW));
    const logins = Promise.all([source.verify(jwt, options), source.verify(jwt, options), source.verify(jwt, options)]);
    release();
    expect(await logins).toHaveLength(3);
    expect(calls).toEqual(['https://issuer.example.com/jwks']);
  });

  it.each([
    ['a failed connection', () => Promise.reject(new Error('ECONNREFUSED'))],
    ['a non-200 answer', () => new Response('nope', { status: 503 })],
    ['a body that is not JSON', () => new Response('<html>')],
    ['JSON that is no key set', () => Response.json({ keys: 'none' })],
  ])('fails closed, as an internal error, on %s, and tries again at the next login', async (_label, respond) => {
    const key = await makeKey('RS256');
    const { calls, fetchImpl } = fakeFetch(respond);
    const source = new JwksKeySource('https://issuer.example.com/jwks', { fetch: fetchImpl, now: () => NOW });
    const jwt = await key.sign(githubClaims(NOW));
    await expect(source.verify(jwt, options)).rejects.toBeInstanceOf(InternalError);
    await expect(source.verify(jwt, options)).rejects.toBeInstanceOf(InternalError);
    expect(calls).toHaveLength(2);
  });

  it('never uses a key set past its TTL when the refetch fails', async () => {
    const key = await makeKey('RS256');
    let up = true;
    const clock = { now: NOW };
    const { fetchImpl } = fakeFetch(() =>
      up ? Response.json({ keys: [key.jwk] }) : new Response('', { status: 500 }),
    );
    const source = new JwksKeySource('https://issuer.example.com/jwks', { fetch: fetchImpl, now: () => clock.now });
    await expect(source.verify(await key.sign(githubClaims(NOW)), options)).resolves.toBeDefined();
    up = false;
    clock.now = NOW + 600_000;
    const later = await key.sign(githubClaims(clock.now));
    await expect(source.verify(later, { ...options, currentDate: new Date(clock.now) })).rejects.toBeInstanceOf(
      InternalError,
    );
  });
});

describe('Class: StaticKeySource', () => {
  it('refuses an algorithm the options do not allow before importing any key', async () => {
    const key = await makeKey('RS256');
    const source = new StaticKeySource([key.pem]);
    await expect(source.verify(await key.sign(githubClaims(NOW)), { algorithms: ['ES256'] })).rejects.toThrow(/alg/);
  });

  it('finds no key when none fits the algorithm', async () => {
    const rsa = await makeKey('RS256');
    const ec = await makeKey('ES256');
    const source = new StaticKeySource([rsa.pem]);
    await expect(source.verify(await ec.sign(githubClaims(NOW)), options)).rejects.toThrow(
      /no applicable key|matching/i,
    );
  });
});
