/**
 * `node:http` for the Lambda bundles (an esbuild alias, `lib/broker-bundling.ts`), loaded with `require` instead of
 * an ESM import. Node builds an ES module's view of a built-in by reading every one of its exports, and `node:http`
 * has getters that load Node's bundled fetch implementation (undici) when read: imported as ESM it costs about 30 ms
 * of CPU, through `require` about 4 (Node 22, docs/BENCHMARKS.md, issue 15). A bundle hoists the imports of built-ins
 * to its top, so even modules it evaluates only later pay at cold start.
 *
 * Every name the bundled code imports from `node:http` must be exported here: esbuild refuses to bundle otherwise.
 */
import { createRequire } from 'node:module';

type NodeHttp = typeof import('node:http');

const http = createRequire(import.meta.url)('node:http') as NodeHttp;

export default http;
export const { Agent, request } = http;
