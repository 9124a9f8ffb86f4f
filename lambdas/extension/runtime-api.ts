import { request } from 'node:http';

/**
 * A client of the Lambda Extensions API (`$AWS_LAMBDA_RUNTIME_API/2020-01-01/extension/...`). It uses node:http, not
 * fetch: `event/next` blocks until the next event, for as long as the environment lives, and fetch's default
 * timeouts would cut it.
 */

export type ExtensionEventType = 'INVOKE' | 'SHUTDOWN';

export interface ExtensionEvent {
  readonly eventType: ExtensionEventType;
  readonly deadlineMs?: number;
  readonly requestId?: string;
  readonly shutdownReason?: string;
}

const BASE = '/2020-01-01/extension';

interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function call(
  runtimeApi: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<RawResponse> {
  const [hostname = '', port = '80'] = runtimeApi.split(':');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname,
        port: Number(port),
        method,
        path,
        headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export class ExtensionsApiClient {
  private readonly runtimeApi: string;

  /** @param runtimeApi `host:port`, the value of `AWS_LAMBDA_RUNTIME_API` */
  constructor(runtimeApi: string) {
    this.runtimeApi = runtimeApi;
  }

  /**
   * Registers for events. `name` must be the file name of the executable in `/opt/extensions`.
   * @returns the `Lambda-Extension-Identifier` every later call sends
   */
  async register(name: string, events: readonly ExtensionEventType[]): Promise<string> {
    const res = await call(
      this.runtimeApi,
      'POST',
      `${BASE}/register`,
      { 'Lambda-Extension-Name': name },
      JSON.stringify({ events }),
    );
    const identifier = res.headers['lambda-extension-identifier'];
    if (res.status !== 200 || typeof identifier !== 'string' || identifier === '') {
      throw new Error(`extension registration failed with HTTP ${res.status}`);
    }
    return identifier;
  }

  /** Blocks until the next event. */
  async next(identifier: string): Promise<ExtensionEvent> {
    const res = await call(this.runtimeApi, 'GET', `${BASE}/event/next`, { 'Lambda-Extension-Identifier': identifier });
    if (res.status !== 200) throw new Error(`event/next failed with HTTP ${res.status}`);
    const event = JSON.parse(res.body) as ExtensionEvent;
    if (event.eventType !== 'INVOKE' && event.eventType !== 'SHUTDOWN') {
      throw new Error('event/next returned an unknown event type');
    }
    return event;
  }

  /** Reports a failed initialisation; Lambda then fails the init phase with `errorType`. */
  async initError(identifier: string, errorType: string, message: string): Promise<void> {
    await call(
      this.runtimeApi,
      'POST',
      `${BASE}/init/error`,
      { 'Lambda-Extension-Identifier': identifier, 'Lambda-Extension-Function-Error-Type': errorType },
      JSON.stringify({ errorMessage: message, errorType }),
    );
  }
}
