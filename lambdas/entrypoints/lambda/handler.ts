import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createAwsClients, loadLambdaHandler } from './compose.ts';
import { loadAwsConfig } from './config.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from './deployment-names.ts';
import { countKmsErrors, countLogins, instrumentHandler } from './observability.ts';

/**
 * The Lambda entry point. Composed once per cold start, at module load (top-level await: the bundle is ESM): a
 * configuration error, or an audit salt secret that cannot be read, fails the init phase (and so every invocation of
 * that instance) with a message naming the setting, instead of surfacing later as a 500.
 */
const config = loadAwsConfig();
const clients = createAwsClients(config);
const kmsErrors = countKmsErrors(clients.kms);
const logger = new Logger({ serviceName: SERVICE_NAME });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });

export const handler = instrumentHandler(
  await loadLambdaHandler(config, clients, { onLogin: countLogins(metrics) }),
  { logger, metrics },
  kmsErrors,
);
