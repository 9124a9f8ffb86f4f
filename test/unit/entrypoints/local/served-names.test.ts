import { describe, expect, it } from 'vitest';
import { AllowedHosts } from '../../../../lambdas/core/auth/allowed-hosts.ts';
import { loadLocalConfig } from '../../../../lambdas/entrypoints/local/config.ts';
import { servedHosts, servedRegions } from '../../../../lambdas/entrypoints/local/served-names.ts';

const hostsOf = (env: NodeJS.ProcessEnv) => new AllowedHosts(servedHosts(loadLocalConfig(env)));

describe('servedHosts', () => {
  it('answers loopback names only, by default', () => {
    const hosts = hostsOf({});
    expect(hosts.allows('127.0.0.1:8270')).toBe(true);
    expect(hosts.allows('localhost:8270')).toBe(true);
    expect(hosts.allows('[::1]:8270')).toBe(true);
    expect(hosts.allows('evil.example')).toBe(false);
    expect(hosts.allows('evil.example:8270')).toBe(false);
  });

  it('adds COFFER_ALLOWED_HOSTS, the host of COFFER_PUBLIC_URL and a non-wildcard COFFER_HOST', () => {
    const hosts = hostsOf({
      COFFER_ALLOWED_HOSTS: 'coffer.internal, Vault.Example ',
      COFFER_PUBLIC_URL: 'https://secrets.example.com',
      COFFER_HOST: '10.0.0.5',
    });
    for (const host of ['coffer.internal', 'vault.example:8270', 'secrets.example.com', '10.0.0.5:8270']) {
      expect(hosts.allows(host), host).toBe(true);
    }
    // Bound to a LAN address only: nothing reaches it as localhost.
    expect(hosts.allows('localhost:8270')).toBe(false);
    expect(hosts.allows('evil.example')).toBe(false);
  });

  it.each(['0.0.0.0', '::'])('keeps loopback names when listening on the wildcard %s', (host) => {
    const hosts = hostsOf({ COFFER_HOST: host });
    expect(hosts.allows('127.0.0.1:8270')).toBe(true);
    expect(hosts.allows('0.0.0.0:8270')).toBe(false);
    expect(hosts.allows('evil.example')).toBe(false);
  });

  it('refuses a COFFER_ALLOWED_HOSTS entry that is not a host name', () => {
    expect(() => loadLocalConfig({ COFFER_ALLOWED_HOSTS: 'ok.example,http://bad/' })).toThrow(/COFFER_ALLOWED_HOSTS/);
  });
});

describe('servedRegions', () => {
  it('serves the node region and us-east-1 by default', () => {
    expect(servedRegions(loadLocalConfig({}))).toEqual(['us-east-1']);
    expect(servedRegions(loadLocalConfig({ COFFER_REGION: 'eu-west-1' }))).toEqual(['eu-west-1', 'us-east-1']);
  });

  it('serves the regions of COFFER_REGIONS too, whose clients sign for them', () => {
    expect(servedRegions(loadLocalConfig({ COFFER_REGIONS: 'us-west-2,eu-west-1' }))).toEqual([
      'us-east-1',
      'us-west-2',
      'eu-west-1',
    ]);
    expect(() => loadLocalConfig({ COFFER_REGIONS: 'local' })).toThrow(/COFFER_REGIONS/);
  });

  it('serves exactly COFFER_SIGV4_REGIONS when set', () => {
    expect(servedRegions(loadLocalConfig({ COFFER_SIGV4_REGIONS: 'eu-west-1, local' }))).toEqual([
      'eu-west-1',
      'local',
    ]);
    expect(() => loadLocalConfig({ COFFER_SIGV4_REGIONS: 'EU West' })).toThrow(/COFFER_SIGV4_REGIONS/);
  });
});
