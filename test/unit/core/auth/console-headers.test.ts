import { describe, expect, it } from 'vitest';
import { CONSOLE_CSP, CONSOLE_SECURITY_HEADERS, consoleCsp } from '../../../../lambdas/core/auth/console-headers.ts';

describe('consoleCsp', () => {
  it('allows nothing inline, no framing, no base, no plugins, forms only to itself', () => {
    expect(CONSOLE_CSP).not.toContain('unsafe');
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "connect-src 'self';",
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ]) {
      expect(CONSOLE_CSP).toContain(directive);
    }
  });

  it("adds the API's URL to connect-src only", () => {
    const csp = consoleCsp(['https://api.example/prod/']);
    expect(csp).toContain("connect-src 'self' https://api.example/prod/;");
    expect(csp.match(/api\.example/g)).toHaveLength(1);
  });

  it('sends no Referer, sniffs no types, and is never framed', () => {
    expect(CONSOLE_SECURITY_HEADERS).toMatchObject({
      'referrer-policy': 'no-referrer',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
    });
  });
});
