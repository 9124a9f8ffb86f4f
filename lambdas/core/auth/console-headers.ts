/**
 * The headers every answer of the web console carries, wherever it is served: by the local server at `/ui/`, and by
 * CloudFront's response-headers policy on AWS (`lib/coffer-console.ts`). The console has no inline script or style,
 * so the policy allows none; `connect-src` names where its API is.
 */

/**
 * The console's Content-Security-Policy.
 * @param api where the console's API is, besides its own origin (the AWS deployment's API URL). @default none
 * @example consoleCsp() // "default-src 'self'; script-src 'self'; ..."
 */
export function consoleCsp(api: readonly string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    ["connect-src 'self'", ...api].join(' '),
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The console's CSP when the API is on its own origin (the local server). */
export const CONSOLE_CSP = consoleCsp();

/** Besides the CSP: no MIME sniffing, no `Referer` (a page's URL never leaves it), no framing, no shared window. */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), clipboard-read=()',
};
