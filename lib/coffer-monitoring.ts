import { Duration } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  BROKER_ERRORS_METRIC,
  KMS_ERRORS_METRIC,
  LAG_METRIC,
  LOGIN_FAILED_METRIC,
  LOGIN_SUCCEEDED_METRIC,
  METRICS_NAMESPACE,
  RELAY_SERVICE_NAME,
  SERVICE_NAME,
} from '../lambdas/entrypoints/lambda/deployment-names.ts';

/**
 * The metric the audit outbox relay emits: age in seconds of the oldest audit record not yet shipped to S3, in the
 * `Coffer` namespace with the Powertools `service` dimension of the relay.
 */
export const AUDIT_SHIPPING_LAG_METRIC = LAG_METRIC;

/** Configuration of {@link CofferMonitoring}. */
export interface CofferMonitoringProps {
  readonly deploymentName: string;
  readonly api: apigateway.RestApi;
  readonly brokerFunction: lambda.IFunction;
  readonly table: dynamodb.ITable;
  /** Alarms created elsewhere (the table's) that the dashboard shows too. */
  readonly extraAlarms?: readonly cloudwatch.IAlarm[];
  /** @default - alarms without actions */
  readonly alarmTopic?: sns.ITopic;
}

const PERIOD = Duration.minutes(5);

/** A Coffer custom metric, as Powertools Metrics publish it (`service` dimension: the emitting function). */
export function cofferMetric(metricName: string, statistic: string, service: string = SERVICE_NAME): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service },
    statistic,
    period: PERIOD,
  });
}

/**
 * Alarms and a dashboard for the broker path: API Gateway 5XX and 4XX rate (throttled requests are 429s, counted
 * there), Lambda errors and throttles, the broker's own `BrokerErrors` and `KmsErrors`, and the audit shipping lag;
 * the dashboard also draws logins (`LoginSucceeded`/`LoginFailed`) per method and mount.
 * Every alarm notifies `alarmTopic` when one is given.
 */
export class CofferMonitoring extends Construct {
  readonly alarms: readonly cloudwatch.Alarm[];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: CofferMonitoringProps) {
    super(scope, id);
    const name = props.deploymentName;
    const atLeastOne = (alarmId: string, description: string, metric: cloudwatch.IMetric): cloudwatch.Alarm =>
      new cloudwatch.Alarm(this, alarmId, {
        alarmDescription: `Coffer (${name}): ${description}`,
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });

    const apiServerErrors = props.api.metricServerError({ period: PERIOD, statistic: 'Sum' });
    const apiClientErrorRate = props.api.metricClientError({ period: PERIOD, statistic: 'Average' });
    const lambdaErrors = props.brokerFunction.metricErrors({ period: PERIOD, statistic: 'Sum' });
    const lambdaThrottles = props.brokerFunction.metricThrottles({ period: PERIOD, statistic: 'Sum' });
    const brokerErrors = cofferMetric(BROKER_ERRORS_METRIC, 'Sum');
    const kmsErrors = cofferMetric(KMS_ERRORS_METRIC, 'Sum');
    const auditLag = cofferMetric(AUDIT_SHIPPING_LAG_METRIC, 'Maximum', RELAY_SERVICE_NAME);

    this.alarms = [
      atLeastOne('ApiServerErrorsAlarm', 'API Gateway returned 5XX responses', apiServerErrors),
      new cloudwatch.Alarm(this, 'ApiClientErrorRateAlarm', {
        alarmDescription: `Coffer (${name}): over 5% of API requests got a 4XX (throttling 429s, denied signatures)`,
        metric: apiClientErrorRate,
        threshold: 0.05,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      atLeastOne('BrokerFunctionErrorsAlarm', 'the broker function failed invocations', lambdaErrors),
      atLeastOne('BrokerFunctionThrottlesAlarm', 'the broker function was throttled', lambdaThrottles),
      atLeastOne('BrokerErrorsAlarm', 'the broker answered with 5xx', brokerErrors),
      atLeastOne('KmsErrorsAlarm', 'KMS calls of the broker failed', kmsErrors),
    ];
    if (props.alarmTopic) {
      const action = new cloudwatchActions.SnsAction(props.alarmTopic);
      for (const alarm of this.alarms) alarm.addAlarmAction(action);
    }

    const tableThrottles = props.table.metricThrottledRequestsForOperations({ period: PERIOD });
    // One line per method and mount: the broker publishes logins with those two dimensions (and its `service`).
    const logins = (metricName: string, label: string) =>
      new cloudwatch.MathExpression({
        expression: `SEARCH('{${METRICS_NAMESPACE},method,mount,service} MetricName="${metricName}"', 'Sum', ${PERIOD.toSeconds()})`,
        label,
        usingMetrics: {},
        period: PERIOD,
      });
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${name}-coffer`,
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          new cloudwatch.AlarmStatusWidget({
            title: 'Coffer alarms',
            alarms: [...this.alarms, ...(props.extraAlarms ?? [])],
            width: 24,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'API requests and errors',
            left: [props.api.metricCount({ period: PERIOD }), apiServerErrors],
            right: [apiClientErrorRate],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Broker function',
            left: [lambdaErrors, lambdaThrottles, brokerErrors],
            right: [props.brokerFunction.metricDuration({ period: PERIOD, statistic: 'p99' })],
            width: 12,
          }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'KMS errors', left: [kmsErrors], width: 8 }),
          new cloudwatch.GraphWidget({ title: 'Audit shipping lag (s)', left: [auditLag], width: 8 }),
          new cloudwatch.GraphWidget({ title: 'DynamoDB throttled requests', left: [tableThrottles], width: 8 }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Logins by method and mount (failed: refused credentials)',
            left: [logins(LOGIN_FAILED_METRIC, 'failed')],
            right: [logins(LOGIN_SUCCEEDED_METRIC, 'succeeded')],
            width: 24,
          }),
        ],
      ],
    });
  }
}
