import { describe, expect, it } from 'vitest';
import { loadLocalConfig } from '../../../../lambdas/entrypoints/local/config.ts';

describe('Function: loadLocalConfig region', () => {
  it('is us-east-1 when nothing names a region, as the AWS tools, moto and LocalStack assume', () => {
    expect(loadLocalConfig({}).region).toBe('us-east-1');
  });

  it('takes COFFER_REGION, else AWS_REGION, else AWS_DEFAULT_REGION', () => {
    const all = { COFFER_REGION: 'eu-west-3', AWS_REGION: 'eu-central-1', AWS_DEFAULT_REGION: 'ap-south-1' };
    expect(loadLocalConfig(all).region).toBe('eu-west-3');
    expect(loadLocalConfig({ ...all, COFFER_REGION: undefined }).region).toBe('eu-central-1');
    expect(loadLocalConfig({ AWS_DEFAULT_REGION: 'ap-south-1' }).region).toBe('ap-south-1');
  });

  it('treats an empty variable as unset', () => {
    expect(loadLocalConfig({ COFFER_REGION: '', AWS_REGION: '', AWS_DEFAULT_REGION: 'ap-south-1' }).region).toBe(
      'ap-south-1',
    );
    expect(loadLocalConfig({ COFFER_REGION: '', AWS_REGION: '' }).region).toBe('us-east-1');
  });

  it('refuses a region that is not one, naming the variables it may come from', () => {
    expect(() => loadLocalConfig({ AWS_REGION: 'EU West' })).toThrow(/COFFER_REGION, else AWS_REGION/);
  });
});

describe('Function: loadLocalConfig awsRegion (STS)', () => {
  it('comes from AWS_REGION, else AWS_DEFAULT_REGION, and never from the node region or its default', () => {
    expect(loadLocalConfig({ AWS_REGION: 'eu-central-1', AWS_DEFAULT_REGION: 'ap-south-1' }).awsRegion).toBe(
      'eu-central-1',
    );
    expect(loadLocalConfig({ AWS_DEFAULT_REGION: 'ap-south-1' }).awsRegion).toBe('ap-south-1');
    expect(loadLocalConfig({ COFFER_REGION: 'eu-west-3' }).awsRegion).toBeUndefined();
    expect(loadLocalConfig({}).awsRegion).toBeUndefined();
    expect(loadLocalConfig({ AWS_REGION: '' }).awsRegion).toBeUndefined();
  });
});
