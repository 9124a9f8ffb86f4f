#!/usr/bin/env node
// The `coffer` CLI, compiled by `npm run build` (`npm ci` builds through `prepare`, `npm start` and `npm test` first).
import { builtEntry, StaleBuildError } from './built.mjs';

let entry;
try {
  entry = builtEntry('cli');
} catch (err) {
  if (!(err instanceof StaleBuildError)) throw err;
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(1);
}
// Stack traces point at the TypeScript sources (dist/ carries source maps).
process.setSourceMapsEnabled(true);
const { main } = await import(entry);
const code = await main(process.argv.slice(2));
// `server` keeps the event loop alive and exits from its signal handlers; every other command ends here.
if (code !== 0 || !process.argv.slice(2).includes('server')) process.exitCode = code;
