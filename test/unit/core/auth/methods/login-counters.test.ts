import { describe, expect, it } from 'vitest';
import { LoginCounters } from '../../../../../lambdas/core/auth/methods/login-counters.ts';

describe('Class: LoginCounters', () => {
  it('counts successes and refusals per method and mount, listed by mount then method', () => {
    const counters = new LoginCounters(1_000);
    counters.record({ method: 'jwt', mount: 'github', succeeded: true });
    counters.record({ method: 'approle', mount: 'ci', succeeded: false });
    counters.record({ method: 'approle', mount: 'ci', succeeded: false });
    counters.record({ method: 'approle', mount: 'ci', succeeded: true });
    expect(counters.snapshot()).toEqual({
      since: 1_000,
      logins: [
        { method: 'approle', mount: 'ci', succeeded: 1, failed: 2 },
        { method: 'jwt', mount: 'github', succeeded: 1, failed: 0 },
      ],
    });
  });

  it('hands out copies: a snapshot does not change as counting goes on', () => {
    const counters = new LoginCounters(0);
    counters.record({ method: 'jwt', mount: 'github', succeeded: false });
    const before = counters.snapshot();
    counters.record({ method: 'jwt', mount: 'github', succeeded: false });
    expect(before.logins[0]?.failed).toBe(1);
    expect(counters.snapshot().logins[0]?.failed).toBe(2);
  });
});
