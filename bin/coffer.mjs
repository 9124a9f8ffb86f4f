#!/usr/bin/env node
// The `coffer` CLI. Sources are TypeScript; tsx compiles them on load so a checkout works right after `npm ci`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../lambdas/entrypoints/cli/main.ts');
const code = await main(process.argv.slice(2));
// `server` keeps the event loop alive and exits from its signal handlers; every other command ends here.
if (code !== 0 || !process.argv.slice(2).includes('server')) process.exitCode = code;
