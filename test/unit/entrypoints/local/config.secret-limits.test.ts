import { describe, expect, it } from 'vitest';
import { loadLocalConfig, secretLimits } from '../../../../lambdas/entrypoints/local/config.ts';

describe('Function: secretLimits', () => {
  it('defaults to 10 writes per second per secret (bursts of 20) and 100 deprecated versions', () => {
    expect(secretLimits(loadLocalConfig({}))).toEqual({
      writeRate: { perSecond: 10, burst: 20 },
      maxDeprecatedVersions: 100,
    });
  });

  it('reads COFFER_SECRET_WRITE_RATE (0 turns the limit off) and COFFER_MAX_DEPRECATED_VERSIONS', () => {
    const limits = secretLimits(
      loadLocalConfig({ COFFER_SECRET_WRITE_RATE: '0', COFFER_MAX_DEPRECATED_VERSIONS: '5' }),
    );
    expect(limits).toEqual({ writeRate: 'unlimited', maxDeprecatedVersions: 5 });
    expect(secretLimits(loadLocalConfig({ COFFER_SECRET_WRITE_RATE: '2.5' })).writeRate).toEqual({
      perSecond: 2.5,
      burst: 5,
    });
    expect(() => loadLocalConfig({ COFFER_MAX_DEPRECATED_VERSIONS: '0' })).toThrow(/maxDeprecatedVersions/);
  });
});
