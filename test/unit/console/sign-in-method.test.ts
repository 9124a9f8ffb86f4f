import { describe, expect, it } from 'vitest';
import { CREDENTIALS_SIGN_IN, defaultSignInMethod, TOKEN_SIGN_IN } from '../../../lambdas/console/sign-in-method.ts';

describe('Function: defaultSignInMethod', () => {
  it('opens on AWS credentials behind API Gateway, where IAM admits only signed calls', () => {
    expect(defaultSignInMethod({ service: 'execute-api' })).toBe(CREDENTIALS_SIGN_IN);
  });

  it('opens on a token on the local server (which also takes Coffer access keys)', () => {
    expect(defaultSignInMethod({ service: 'coffer' })).toBe(TOKEN_SIGN_IN);
  });
});
