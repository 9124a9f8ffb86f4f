import { Metrics } from '@aws-lambda-powertools/metrics';
import { DecryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type {
  ApiGatewayProxyEvent,
  ApiGatewayProxyResult,
} from '../../../../lambdas/entrypoints/lambda/api-gateway.ts';
import {
  BROKER_ERRORS_METRIC,
  KMS_ERRORS_METRIC,
  LOGIN_FAILED_METRIC,
  LOGIN_SUCCEEDED_METRIC,
  METRICS_NAMESPACE,
} from '../../../../lambdas/entrypoints/lambda/deployment-names.ts';
import {
  countKmsErrors,
  countLogins,
  instrumentHandler,
  operationOf,
} from '../../../../lambdas/entrypoints/lambda/observability.ts';

const SECRET_VALUE = 'hunter2-do-not-log';

function event(overrides: Partial<ApiGatewayProxyEvent> = {}): ApiGatewayProxyEvent {
  return {
    httpMethod: 'PUT',
    path: '/v1/secret/data/team/db-password',
    headers: { 'content-type': 'application/json', 'x-coffer-token': 's.token-value' },
    body: JSON.stringify({ value: SECRET_VALUE }),
    requestContext: { requestId: 'req-1', identity: { sourceIp: '10.0.0.1' } },
    ...overrides,
  };
}

function recorder() {
  const logs: { level: string; message: string; fields: unknown }[] = [];
  const metrics: { name: string; value: number }[] = [];
  let published = 0;
  return {
    logs,
    metrics,
    published: () => published,
    telemetry: {
      logger: {
        info: (message: string, fields: unknown) => logs.push({ level: 'info', message, fields }),
        error: (message: string, fields: unknown) => logs.push({ level: 'error', message, fields }),
      },
      metrics: {
        addMetric: (name: string, _unit: unknown, value: number) => metrics.push({ name, value }),
        publishStoredMetrics: () => {
          published++;
        },
      },
    } as never,
  };
}

const noKmsErrors = { take: () => 0 };
const answer = (statusCode: number) => async (): Promise<ApiGatewayProxyResult> => ({
  statusCode,
  headers: {},
  body: JSON.stringify({ value: SECRET_VALUE }),
  isBase64Encoded: false,
});

describe('Function: instrumentHandler', () => {
  it('logs one line with operation, status, request id and latency, and nothing of the request or response', async () => {
    const rec = recorder();
    let clock = 100;
    const handler = instrumentHandler(answer(200), rec.telemetry, noKmsErrors, () => (clock += 5));
    await handler(event());
    expect(rec.logs).toEqual([
      {
        level: 'info',
        message: 'request',
        fields: { operation: 'PUT /v1/secret/data', status: 200, requestId: 'req-1', latencyMs: 5 },
      },
    ]);
    const logged = JSON.stringify(rec.logs);
    for (const leak of [SECRET_VALUE, 's.token-value', 'db-password']) expect(logged).not.toContain(leak);
  });

  it('counts a 5xx as a broker error and a 4xx as none, publishing per request', async () => {
    const rec = recorder();
    await instrumentHandler(answer(503), rec.telemetry, noKmsErrors)(event());
    await instrumentHandler(answer(404), rec.telemetry, noKmsErrors)(event());
    expect(rec.metrics.filter((m) => m.name === BROKER_ERRORS_METRIC).map((m) => m.value)).toEqual([1, 0]);
    expect(rec.published()).toBe(2);
  });

  it('counts a thrown handler as a broker error, logging only the error name', async () => {
    const rec = recorder();
    const failing = async (): Promise<ApiGatewayProxyResult> => {
      throw new TypeError(`boom ${SECRET_VALUE}`);
    };
    await expect(instrumentHandler(failing, rec.telemetry, noKmsErrors)(event())).rejects.toThrow(TypeError);
    expect(rec.metrics).toContainEqual({ name: BROKER_ERRORS_METRIC, value: 1 });
    expect(rec.logs[0]).toEqual({ level: 'error', message: 'broker failed', fields: { errorName: 'TypeError' } });
    expect(JSON.stringify(rec.logs)).not.toContain(SECRET_VALUE);
  });

  it('reports the KMS failures of the invocation', async () => {
    const rec = recorder();
    await instrumentHandler(answer(500), rec.telemetry, { take: () => 2 })(event());
    expect(rec.metrics).toContainEqual({ name: KMS_ERRORS_METRIC, value: 2 });
  });
});

describe('Function: countKmsErrors', () => {
  it('counts failed KMS calls and resets on take', async () => {
    const client = new KMSClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    });
    const counter = countKmsErrors(client);
    // Stands in for the network below the counter: the first call fails, the second succeeds.
    let calls = 0;
    client.middlewareStack.add(
      () => async () => {
        calls++;
        if (calls === 1) throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
        return { output: { $metadata: {} }, response: {} };
      },
      { step: 'serialize', name: 'fakeKms' },
    );
    await expect(client.send(new DecryptCommand({ CiphertextBlob: new Uint8Array(1) }))).rejects.toThrow('throttled');
    await client.send(new DecryptCommand({ CiphertextBlob: new Uint8Array(1) }));
    expect(counter.take()).toBe(1);
    expect(counter.take()).toBe(0);
  });
});

describe('Function: operationOf', () => {
  it('names a Secrets Manager call by its target', () => {
    expect(
      operationOf({ httpMethod: 'POST', path: '/', headers: { 'X-Amz-Target': 'secretsmanager.GetSecretValue' } }),
    ).toBe('secretsmanager.GetSecretValue');
  });

  it('keeps only the first three path segments', () => {
    expect(operationOf({ httpMethod: 'GET', path: '/v1/sys/health', headers: null })).toBe('GET /v1/sys/health');
    expect(operationOf({ httpMethod: 'GET', path: '/v1/secret/data/a/b/c' })).toBe('GET /v1/secret/data');
  });
});

describe('Function: countLogins', () => {
  afterEach(() => vi.restoreAllMocks());

  /** The EMF documents Powertools writes to stdout (what CloudWatch turns into metrics). */
  function emitted(write: { mock: { calls: unknown[][] } }): Record<string, unknown>[] {
    return write.mock.calls
      .map(([chunk]) => String(chunk))
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  it('publishes LoginSucceeded and LoginFailed at once, with method and mount as their only own dimensions', () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'coffer' });
    const count = countLogins(metrics);
    count({ method: 'jwt', mount: 'github', succeeded: true });
    count({ method: 'approle', mount: 'ci', succeeded: false });
    const [succeeded, failed] = emitted(write);
    expect(succeeded).toMatchObject({ [LOGIN_SUCCEEDED_METRIC]: 1, method: 'jwt', mount: 'github' });
    expect(failed).toMatchObject({ [LOGIN_FAILED_METRIC]: 1, method: 'approle', mount: 'ci' });
    const definition = (failed as { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] } })._aws
      .CloudWatchMetrics[0]!;
    expect(definition.Namespace).toBe(METRICS_NAMESPACE);
    expect(definition.Dimensions[0]).toEqual(expect.arrayContaining(['method', 'mount']));
    expect(definition.Dimensions[0]).not.toContain('role');
    // The request's own metrics stay free of them: nothing was stored on the shared instance.
    expect(metrics.hasStoredMetrics()).toBe(false);
  });
});
