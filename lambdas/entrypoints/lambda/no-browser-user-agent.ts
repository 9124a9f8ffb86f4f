/**
 * What the Lambda bundles get in place of `bowser` (an esbuild alias, `lib/broker-bundling.ts`), the browser
 * user-agent parser that the SDK's core loads with `import()` and calls only on `window.navigator.userAgent`
 * (`createUserAgentStringParsingProvider`). Node has no `window`, so it is never called there; the alias takes
 * 38 KB of minified code and its source map out of every function's zip. Should it be called all the same, it parses
 * nothing, as the SDK's own fallback does.
 */
export function parse(_userAgent: string): undefined {
  return undefined;
}

export default { parse };
