import { describe, expect, it } from 'vitest';
import { CofferThrottledError, errorFromResponse } from '../../../lambdas/sdk/errors.ts';

describe('Function: errorFromResponse (throttling)', () => {
  it('classifies a throttled write as retryable, on both protocols', () => {
    const aws = errorFromResponse(400, JSON.stringify({ __type: 'ThrottlingException', message: 'slow down' }));
    expect(aws).toBeInstanceOf(CofferThrottledError);
    expect(aws.retryable).toBe(true);
    const native = errorFromResponse(429, JSON.stringify({ error: { code: 'throttled', message: 'slow down' } }));
    expect(native).toBeInstanceOf(CofferThrottledError);
    expect(native.code).toBe('throttled');
  });
});
