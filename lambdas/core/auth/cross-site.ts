/**
 * Cross-site request forgery, as browsers let us see it. The console keeps its token in memory and sends it in a
 * header, which a page on another site cannot do; what such a page can still do is make the browser send a simple
 * request (a form POST, a `fetch` with `mode: 'no-cors'`) with no token at all, such as a login with the attacker's
 * credentials. Browsers say where every request comes from (`Sec-Fetch-Site`, and `Origin` on anything but a plain
 * GET), so a state-changing request that a browser says another site made is refused before it is handled.
 * Non-browser clients (the CLI, the SDK, curl) send neither header and are not concerned.
 */

/** Methods a browser may send cross-site without a preflight and that change nothing here. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface CrossSiteRequest {
  readonly method: string;
  /** Lower-case header names, as node:http gives them. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** `http` or `https`: the scheme this listener serves, which the request's own origin carries. */
  readonly scheme: 'http' | 'https';
  /**
   * Origins that are this server too, such as its public URL's behind a TLS-terminating proxy (which the browser sees
   * as `https://coffer.example.com` while the listener serves plain HTTP). @default none
   */
  readonly ownOrigins?: readonly string[];
}

/**
 * Why a request must be refused as cross-site, or `undefined` when it may go on.
 * @example
 * crossSiteRefusal({ method: 'POST', scheme: 'http', headers: { host: '127.0.0.1:8270', origin: 'https://evil.example' } })
 * // 'the Origin https://evil.example is not this server'
 */
export function crossSiteRefusal(request: CrossSiteRequest): string | undefined {
  if (SAFE_METHODS.has(request.method.toUpperCase())) return undefined;
  const site = request.headers['sec-fetch-site'];
  // `none` is a request the user made (typed URL, bookmark); `same-site` is refused too: a sibling sub-domain is
  // another party as far as the token's holder is concerned.
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return `a ${site} request may not change anything here`;
  }
  const origin = request.headers.origin;
  if (origin === undefined) return undefined;
  if (request.ownOrigins?.includes(origin) === true) return undefined;
  const host = request.headers.host;
  if (host === undefined || origin !== `${request.scheme}://${host.toLowerCase()}`) {
    return `the Origin ${origin.slice(0, 200)} is not this server`;
  }
  return undefined;
}
