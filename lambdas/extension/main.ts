/**
 * Entry point of the Coffer Lambda extension, bundled by `lib/extension-layer.ts` to `coffer-extension/index.mjs` in
 * the layer and started by the `extensions/coffer-extension` launcher. Exits explicitly: Lambda allows about 2 s after
 * SHUTDOWN, and idle keep-alive sockets must not hold the process open.
 */
import { runExtension } from './run-extension.ts';

runExtension(process.env).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[Coffer Extension] ERROR ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
