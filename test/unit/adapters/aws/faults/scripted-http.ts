import { Readable } from 'node:stream';
import { HttpResponse } from '@smithy/protocol-http';

/** One HTTP attempt's fate: an answer (status, content type, body), a network error by code, or a plain 200. */
export type Scripted = { status: number; body?: string; contentType?: string } | { error: string } | 'ok';

/**
 * A smithy request handler that answers each HTTP attempt with the next entry of `script` (the last one repeats) and
 * records what was sent. As a client's `requestHandler` it sits below every SDK middleware, the retry strategy
 * included, so the attempts the SDK makes in production are the attempts counted here.
 */
export function scriptedHandler(script: readonly Scripted[], okBody = '{}', okType = 'application/json') {
  const seen: Array<{ target: string; path: string; headers: Record<string, string>; body: string }> = [];
  const respond = (statusCode: number, body: string, contentType: string) => ({
    response: new HttpResponse({
      statusCode,
      headers: { 'content-type': contentType },
      body: Readable.from([Buffer.from(body)]),
    }),
  });
  const handler = {
    metadata: { handlerProtocol: 'http/1.1' },
    async handle(request: { headers: Record<string, string>; path: string; body?: unknown }) {
      const body =
        request.body instanceof Uint8Array ? Buffer.from(request.body).toString('utf8') : String(request.body ?? '');
      seen.push({ target: request.headers['x-amz-target'] ?? '', path: request.path, headers: request.headers, body });
      const step = script[Math.min(seen.length - 1, script.length - 1)]!;
      if (step === 'ok') return respond(200, okBody, okType);
      if ('error' in step) throw Object.assign(new Error('injected'), { code: step.error, name: step.error });
      return respond(step.status, step.body ?? '', step.contentType ?? 'application/json');
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
    destroy() {},
  };
  return { handler, seen };
}

/** Settings that can never reach AWS: dummy credentials and a closed loopback endpoint (the handler answers). */
export const OFFLINE = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  endpoint: 'http://127.0.0.1:1',
} as const;
