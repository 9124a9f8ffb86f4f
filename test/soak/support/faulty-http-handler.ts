import { Readable } from 'node:stream';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { type HttpRequest, HttpResponse } from '@smithy/protocol-http';
import type { HttpHandlerOptions } from '@smithy/types';
import type { Rng } from '../malformed/prng.ts';

/**
 * What the injector does to one HTTP attempt of an AWS SDK call:
 * - `throttle`: the service's own throttling answer (DynamoDB `ThrottlingException` / `ProvisionedThroughputExceeded`,
 *   KMS `ThrottlingException`, S3 `503 SlowDown`), never forwarded;
 * - `server-error`: a bare 500, never forwarded;
 * - `timeout`: the socket times out before the request left (nothing applied);
 * - `lost-response`: the request IS forwarded and applied, then the connection resets before the answer arrives, so
 *   the SDK retries a request that already took effect (the case idempotency has to survive);
 * - `delay`: forwarded after a pause.
 */
export type Fault = 'throttle' | 'server-error' | 'timeout' | 'lost-response' | 'delay';
export const FAULTS: readonly Fault[] = ['throttle', 'server-error', 'timeout', 'lost-response', 'delay'];

export interface FaultTally {
  attempts: number;
  forwarded: number;
  /** Repeats of an applied transaction answered as DynamoDB does (see FaultyHttpHandler). */
  idempotentReplays: number;
  byFault: Record<Fault, number>;
  /** HTTP attempts per SDK call (its `x-soak-call` header), to check the SDK's retries are bounded. */
  attemptsPerCall: Map<string, number>;
}

export function newFaultTally(): FaultTally {
  return {
    attempts: 0,
    forwarded: 0,
    idempotentReplays: 0,
    byFault: { throttle: 0, 'server-error': 0, timeout: 0, 'lost-response': 0, delay: 0 },
    attemptsPerCall: new Map(),
  };
}

const JSON_10 = { 'content-type': 'application/x-amz-json-1.0' };

/** The idempotency token of a TransactWriteItems request, if this is one. */
function transactionToken(request: HttpRequest): string | undefined {
  if (request.headers['x-amz-target'] !== 'DynamoDB_20120810.TransactWriteItems') return undefined;
  try {
    const body: unknown = request.body;
    const text = body instanceof Uint8Array ? Buffer.from(body).toString('utf8') : String(body);
    return (JSON.parse(text) as { ClientRequestToken?: string }).ClientRequestToken;
  } catch {
    return undefined;
  }
}

function stream(text: string): Readable {
  return Readable.from([Buffer.from(text, 'utf8')]);
}

/** The throttling answer each service gives, in its own protocol. */
function throttled(request: HttpRequest, rng: Rng): HttpResponse {
  const target = request.headers['x-amz-target'] ?? '';
  if (target.startsWith('DynamoDB_')) {
    const type = rng.chance(0.5) ? 'ThrottlingException' : 'ProvisionedThroughputExceededException';
    return new HttpResponse({
      statusCode: 400,
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'soak' },
      body: stream(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: 'Rate exceeded' })),
    });
  }
  if (target.startsWith('TrentService.')) {
    return new HttpResponse({
      statusCode: 400,
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'soak' },
      body: stream(JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' })),
    });
  }
  return new HttpResponse({
    statusCode: 503,
    headers: { 'content-type': 'application/xml', 'x-amz-request-id': 'soak' },
    body: stream(
      '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>',
    ),
  });
}

function networkError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, name: code === 'ETIMEDOUT' ? 'TimeoutError' : 'Error' });
}

/**
 * A smithy HTTP handler that forwards to a real one (the emulator) and injects a fault into a fraction of attempts,
 * drawn from a seeded PRNG. It is the client's `requestHandler`, so every SDK middleware, the retry strategy
 * included, runs above it exactly as in production.
 */
export class FaultyHttpHandler {
  readonly metadata = { handlerProtocol: 'http/1.1' };
  private readonly inner: NodeHttpHandler;
  /**
   * TransactWriteItems tokens already applied. DynamoDB answers a repeat of an applied transaction (same
   * ClientRequestToken, within ten minutes) with success and applies nothing; moto ignores the token and would apply
   * it again, so the injector plays DynamoDB's part here. Without it a lost answer would be a fault no real table has.
   */
  private readonly appliedTokens = new Set<string>();

  constructor(
    private readonly rng: Rng,
    private readonly rate: number,
    readonly tally: FaultTally,
    private readonly allowed: readonly Fault[] = FAULTS,
    inner?: NodeHttpHandler,
  ) {
    this.inner = inner ?? new NodeHttpHandler({ httpAgent: { maxSockets: 1, keepAlive: true } });
  }

  async handle(request: HttpRequest, options?: HttpHandlerOptions): Promise<{ response: HttpResponse }> {
    this.tally.attempts++;
    const call = request.headers['x-soak-call'];
    if (call !== undefined) this.tally.attemptsPerCall.set(call, (this.tally.attemptsPerCall.get(call) ?? 0) + 1);
    const token = transactionToken(request);
    if (token !== undefined && this.appliedTokens.has(token)) {
      this.tally.idempotentReplays++;
      return { response: new HttpResponse({ statusCode: 200, headers: JSON_10, body: stream('{}') }) };
    }
    const fault = this.rng.chance(this.rate) ? this.rng.pick(this.allowed) : undefined;
    if (fault !== undefined) this.tally.byFault[fault]++;
    switch (fault) {
      case 'throttle':
        return { response: throttled(request, this.rng) };
      case 'server-error':
        return {
          response: new HttpResponse({ statusCode: 500, headers: { 'content-type': 'text/plain' }, body: stream('') }),
        };
      case 'timeout':
        throw networkError('ETIMEDOUT', 'socket timed out (injected)');
      case 'lost-response': {
        this.tally.forwarded++;
        const { response } = await this.inner.handle(request, options);
        if (token !== undefined && response.statusCode === 200) this.appliedTokens.add(token);
        // Drain it, so the emulator's connection is reusable, then lose it.
        for await (const _ of response.body as Readable) {
        }
        throw networkError('ECONNRESET', 'connection reset after the request was sent (injected)');
      }
      case 'delay':
        await new Promise((resolve) => setTimeout(resolve, 5 + this.rng.int(200)));
        break;
      default:
        break;
    }
    this.tally.forwarded++;
    const answered = await this.inner.handle(request, options);
    if (token !== undefined && answered.response.statusCode === 200) this.appliedTokens.add(token);
    return answered;
  }

  updateHttpClientConfig(key: never, value: never): void {
    this.inner.updateHttpClientConfig(key, value);
  }

  httpHandlerConfigs() {
    return this.inner.httpHandlerConfigs();
  }

  destroy(): void {
    this.inner.destroy();
  }
}

/**
 * Tags every SDK call of `client` with a call id, in a step before the retry strategy, so all the HTTP attempts of
 * one call carry the same id.
 */
export function tagCalls(client: { middlewareStack: { add: (...args: never[]) => void } }, prefix: string): void {
  let next = 0;
  const add = client.middlewareStack.add as unknown as (
    mw: (n: (args: { request: unknown }) => Promise<unknown>) => (args: { request: unknown }) => Promise<unknown>,
    options: { step: 'build'; name: string },
  ) => void;
  add(
    (nextHandler) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers !== undefined) request.headers['x-soak-call'] = `${prefix}-${next++}`;
      return nextHandler(args);
    },
    { step: 'build', name: 'soakCallTag' },
  );
}
