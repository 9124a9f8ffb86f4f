import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { LoginAttempt } from '../../broker/broker-deps.ts';
import type { ApiGatewayProxyEvent, ApiGatewayProxyResult } from './api-gateway.ts';
import {
  BROKER_ERRORS_METRIC,
  KMS_ERRORS_METRIC,
  LOGIN_FAILED_METRIC,
  LOGIN_SUCCEEDED_METRIC,
} from './deployment-names.ts';

/** The parts of Powertools' logger and metrics the broker uses, so tests can hand in recorders. */
export interface BrokerTelemetry {
  readonly logger: Pick<Logger, 'info' | 'error'>;
  readonly metrics: Pick<Metrics, 'addMetric' | 'publishStoredMetrics'>;
}

/** Counts failed KMS calls between two {@link KmsErrorCounter.take} calls. */
export interface KmsErrorCounter {
  /** The failures since the last call, resetting the count. */
  take(): number;
}

/**
 * Counts every failed call of `client` (a middleware at the `initialize` step, so SDK retries that end in success
 * are not counted). Lambda runs one invocation at a time per instance, so the count between two `take()` calls is
 * the count of one invocation.
 *
 * @example
 * const kmsErrors = countKmsErrors(clients.kms);
 */
export function countKmsErrors(client: Pick<KMSClient, 'middlewareStack'>): KmsErrorCounter {
  let count = 0;
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        count++;
        throw err;
      }
    },
    { step: 'initialize', name: 'cofferCountKmsErrors' },
  );
  return {
    take() {
      const taken = count;
      count = 0;
      return taken;
    },
  };
}

/**
 * A label for the request that names the API operation but not the resource: the Secrets Manager target
 * (`secretsmanager.GetSecretValue`), or the method and the first three path segments (`GET /v1/secret/data`), so
 * secret names stay out of the logs.
 */
export function operationOf(event: Pick<ApiGatewayProxyEvent, 'httpMethod' | 'path' | 'headers'>): string {
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (name.toLowerCase() === 'x-amz-target' && value !== undefined) return value.slice(0, 128);
  }
  const segments = event.path.split('/').filter(Boolean).slice(0, 3);
  return `${event.httpMethod} /${segments.join('/')}`;
}

type ProxyHandler = (event: ApiGatewayProxyEvent) => Promise<ApiGatewayProxyResult>;

/**
 * Wraps the proxy handler with one structured log line and the `BrokerErrors`/`KmsErrors` metrics per request. The
 * log line holds only the operation, status, request id and latency: never a header, a query, a body or a
 * response (they can hold tokens and secret values).
 *
 * @example
 * export const handler = instrumentHandler(inner, { logger, metrics }, countKmsErrors(clients.kms));
 */
export function instrumentHandler(
  inner: ProxyHandler,
  telemetry: BrokerTelemetry,
  kmsErrors: KmsErrorCounter,
  now: () => number = () => performance.now(),
): ProxyHandler {
  const { logger, metrics } = telemetry;
  return async (event) => {
    const started = now();
    let status = 500;
    try {
      const result = await inner(event);
      status = result.statusCode;
      return result;
    } catch (err) {
      logger.error('broker failed', { errorName: err instanceof Error ? err.name : typeof err });
      throw err;
    } finally {
      metrics.addMetric(BROKER_ERRORS_METRIC, MetricUnit.Count, status >= 500 ? 1 : 0);
      metrics.addMetric(KMS_ERRORS_METRIC, MetricUnit.Count, kmsErrors.take());
      metrics.publishStoredMetrics();
      logger.info('request', {
        operation: operationOf(event),
        status,
        requestId: event.requestContext.requestId,
        latencyMs: Math.round((now() - started) * 10) / 10,
      });
    }
  };
}

/**
 * Counts each login as `LoginSucceeded` or `LoginFailed` with the dimensions `method` and `mount`, in a metric of its
 * own (Powertools' single metric, published at once), so the dimensions never attach to the per-request metrics. Never
 * the role or the user: whoever reads the metrics must not learn who tried, and dimensions must stay few (the mount
 * comes from the mount table, never from an unmounted path a caller made up).
 *
 * @example
 * loadLambdaHandler(config, clients, { onLogin: countLogins(metrics) });
 */
export function countLogins(metrics: Pick<Metrics, 'singleMetric'>): (attempt: LoginAttempt) => void {
  return (attempt) => {
    const single = metrics.singleMetric();
    single.addDimensions({ method: attempt.method, mount: attempt.mount });
    single.addMetric(attempt.succeeded ? LOGIN_SUCCEEDED_METRIC : LOGIN_FAILED_METRIC, MetricUnit.Count, 1);
  };
}
