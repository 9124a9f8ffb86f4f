/**
 * `NodejsFunction`'s `afterBundling` hook for every Coffer function (`brokerBundlingOptions` in
 * `lib/broker-bundling.ts`): replaces the one-file bundle CDK built in the asset directory with the same bundle split
 * into `index.mjs` and chunks, so a cold start compiles only what it evaluates. Plain JavaScript, given its esbuild
 * options as JSON, so it runs wherever CDK's own esbuild step does (an app using `coffer/cdk` has no tsx).
 *
 * node scripts/split-bundle.mjs <asset directory> <esbuild options as JSON>
 */
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const [outdir, json] = process.argv.slice(2);
if (outdir === undefined || json === undefined) {
  console.error('usage: split-bundle.mjs <asset directory> <esbuild options as JSON>');
  process.exit(2);
}
const options = JSON.parse(json);
if (options.outdir !== outdir || options.splitting !== true) {
  console.error(`split-bundle.mjs: the options must split into ${outdir}`);
  process.exit(2);
}
for (const file of readdirSync(outdir)) {
  if (/\.mjs(\.map)?$/.test(file)) rmSync(path.join(outdir, file));
}
await build(options);
