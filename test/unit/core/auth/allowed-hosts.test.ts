import { describe, expect, it, vi } from 'vitest';
import { AllowedHosts, boundHostName, hostName, isLoopbackName } from '../../../../lambdas/core/auth/allowed-hosts.ts';

describe('hostName', () => {
  it.each([
    ['localhost', 'localhost'],
    ['LocalHost:8270', 'localhost'],
    ['localhost.', 'localhost'],
    ['127.0.0.1:8270', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['[::1]:2773', '[::1]'],
    ['[0:0:0:0:0:0:0:1]', '[::1]'],
    ['Coffer.Internal:443', 'coffer.internal'],
    ['host:', 'host'],
  ])('normalises %j to %j', (value, expected) => {
    expect(hostName(value)).toBe(expected);
  });

  it.each([
    [''],
    ['evil.example@127.0.0.1'],
    ['127.0.0.1/x'],
    ['127.0.0.1:99999'],
    ['a b'],
    ['[::1'],
    ['1.2.3.4.5'],
    ['%6cocalhost'],
    ['.'],
  ])('refuses %j', (value) => {
    expect(hostName(value)).toBeUndefined();
  });
});

describe('Class: AllowedHosts', () => {
  it('accepts loopback names with or without a port, by default', () => {
    const hosts = new AllowedHosts();
    for (const host of [
      'localhost',
      'localhost:8270',
      '127.0.0.1',
      '127.0.0.1:1',
      '127.42.0.9:80',
      '[::1]',
      '[::1]:2773',
    ]) {
      expect(hosts.allows(host), host).toBe(true);
    }
  });

  it('refuses other names, no Host at all, and loopback when told to', () => {
    const hosts = new AllowedHosts({ names: ['coffer.internal'] });
    for (const host of ['evil.example', 'evil.example:8270', '10.0.0.5', 'localhost.evil.example', '128.0.0.1']) {
      expect(hosts.allows(host), host).toBe(false);
    }
    expect(hosts.allows(undefined)).toBe(false);
    expect(hosts.allows('')).toBe(false);
    expect(new AllowedHosts({ names: ['coffer.internal'], loopback: false }).allows('127.0.0.1:8270')).toBe(false);
  });

  it('accepts configured names whatever their case and port', () => {
    const hosts = new AllowedHosts({ names: ['Coffer.Internal:8443', '10.0.0.5'], loopback: false });
    expect(hosts.allows('coffer.internal')).toBe(true);
    expect(hosts.allows('COFFER.INTERNAL:9000')).toBe(true);
    expect(hosts.allows('10.0.0.5:8270')).toBe(true);
  });

  it('refuses to be configured with something that is not a host', () => {
    expect(() => new AllowedHosts({ names: ['http://coffer.internal'] })).toThrow(RangeError);
  });

  it('knows the loopback names', () => {
    expect(isLoopbackName('127.255.255.254')).toBe(true);
    expect(isLoopbackName('localhost')).toBe(true);
    expect(isLoopbackName('[::1]')).toBe(true);
    expect(isLoopbackName('[::2]')).toBe(false);
    expect(isLoopbackName('localhost.example')).toBe(false);
  });
});

describe('boundHostName', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['10.0.0.5', '10.0.0.5'],
    ['::1', '[::1]'],
    ['[::1]', '[::1]'],
    ['Coffer.Internal', 'coffer.internal'],
  ])('names %j as %j', (address, expected) => {
    expect(boundHostName(address)).toBe(expected);
  });

  it.each(['0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0'])('names no host for the wildcard %j', (address) => {
    expect(boundHostName(address)).toBeUndefined();
  });
});

describe('Method: AllowedHosts.allows, remembered answers', () => {
  it('answers the same by memory as by parsing, whatever the order, and after the memory fills', () => {
    const hosts = new AllowedHosts({ names: ['coffer.internal'] });
    const values = ['127.0.0.1:1', 'evil.example', 'COFFER.internal:8', 'a@b', '[::1]:9', 'x'.repeat(300)];
    const first = values.map((value) => hosts.allows(value));
    expect(first).toEqual([true, false, true, false, true, false]);
    for (let i = 0; i < 200; i++) hosts.allows(`junk-${i}.example`);
    expect([...values].reverse().map((value) => hosts.allows(value))).toEqual([...first].reverse());
  });

  it('parses a remembered value only once', () => {
    const hosts = new AllowedHosts();
    const parse = vi.spyOn(URL.prototype, 'hostname', 'get');
    try {
      hosts.allows('localhost:8270');
      const once = parse.mock.calls.length;
      hosts.allows('localhost:8270');
      expect(once).toBeGreaterThan(0);
      expect(parse.mock.calls.length).toBe(once);
    } finally {
      parse.mockRestore();
    }
  });
});
