import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { type ServerProcess, startServer, tempDir } from './server-process.ts';

/** One server for a whole test file: started before its tests, stopped (and its data removed) after them. */
export function useServer(env: Record<string, string> = {}): () => ServerProcess {
  let server: ServerProcess | undefined;
  let cleanup: (() => void) | undefined;
  beforeAll(async () => {
    const tmp = tempDir();
    cleanup = tmp.cleanup;
    server = await startServer(path.join(tmp.dir, 'data'), env);
  });
  afterAll(async () => {
    await server?.stop();
    cleanup?.();
  });
  return () => {
    if (server === undefined) throw new Error('the server is not started yet');
    return server;
  };
}
