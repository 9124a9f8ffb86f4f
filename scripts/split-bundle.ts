/**
 * `NodejsFunction`'s `afterBundling` hook for every Coffer function (`brokerBundlingOptions` in
 * `lib/broker-bundling.ts`): replaces the one-file bundle CDK built in the asset directory with the same bundle split
 * into `index.mjs` and chunks, so a cold start compiles only what it evaluates.
 *
 * node --import tsx scripts/split-bundle.ts <entry.ts> <asset directory>
 */
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { brokerSplitEsbuildOptions } from '../lib/broker-bundling.ts';

const [entry, outdir] = process.argv.slice(2);
if (entry === undefined || outdir === undefined) {
  console.error('usage: split-bundle.ts <entry.ts> <asset directory>');
  process.exit(2);
}
for (const file of readdirSync(outdir)) {
  if (/\.mjs(\.map)?$/.test(file)) rmSync(path.join(outdir, file));
}
await build(brokerSplitEsbuildOptions(entry, outdir));
