import path from 'node:path';
import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ROTATION_EVENTS } from '../lambdas/core/rotation/rotation-workflow.ts';
import { REPO_ROOT } from './broker-bundling.ts';
import { CofferFunction } from './coffer-function.ts';
import { functionRole } from './function-role.ts';

/** The expiry sweeper Lambda's entry module. */
export const EXPIRY_SWEEPER_ENTRY = path.join(REPO_ROOT, 'lambdas/entrypoints/lambda/expiry-sweeper-handler.ts');

export interface CofferExpirySweeperProps {
  /** The items table holding the secrets, certificates and their expiry indexes. */
  readonly tableName: string;
  /** The envelope key's ARN: names the account of secret ARNs. The sweep never unwraps a key. */
  readonly envelopeKeyArn: string;
  /** The bus expiry events go to (rotation's). @default 'default' */
  readonly eventBusName?: string;
  /** @default 'coffer' (used in descriptions) */
  readonly deploymentName?: string;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /** @default RETAIN (the log group) */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The expiry sweeper: publishes `SecretExpiring`, `SecretExpired`, `CertificateExpiring` and `CertificateExpired` on
 * EventBridge as they fall due (docs/expiration.md). An EventBridge rule runs it every minute; reserved concurrency 1,
 * though concurrent passes would still publish each event once (each entry is claimed by a conditional write).
 *
 * Its role may put events of source `coffer.rotation` on its bus; {@link CofferControlPlane} grants the table.
 *
 * @example
 * ```ts
 * const sweeper = new CofferExpirySweeper(this, 'ExpirySweeper', { tableName, envelopeKeyArn });
 * plane.grantStore(sweeper.role);
 * ```
 */
export class CofferExpirySweeper extends Construct {
  readonly function: CofferFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly schedule: events.Rule;

  constructor(scope: Construct, id: string, props: CofferExpirySweeperProps) {
    super(scope, id);
    const name = props.deploymentName ?? 'coffer';
    const bus = props.eventBusName ?? 'default';

    ({ logGroup: this.logGroup, role: this.role } = functionRole(this, {
      description: `Coffer (${name}): the expiry sweeper`,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
    }));
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PublishExpiryEvents',
        actions: ['events:PutEvents'],
        resources: [Stack.of(this).formatArn({ service: 'events', resource: 'event-bus', resourceName: bus })],
        conditions: { StringEquals: { 'events:source': ROTATION_EVENTS.source } },
      }),
    );

    this.function = new CofferFunction(this, 'Function', {
      description: `Coffer (${name}): publishes the expiry events of secrets and certificates`,
      entry: EXPIRY_SWEEPER_ENTRY,
      memorySize: 256,
      timeout: Duration.seconds(55),
      reservedConcurrentExecutions: 1,
      role: this.role,
      logGroup: this.logGroup,
      environment: {
        COFFER_TABLE_NAME: props.tableName,
        COFFER_ENVELOPE_KEY_ARN: props.envelopeKeyArn,
        COFFER_EVENT_BUS_NAME: bus,
      },
    });

    this.schedule = new events.Rule(this, 'Schedule', {
      description: `Coffer (${name}): one expiry sweep pass`,
      schedule: events.Schedule.rate(Duration.minutes(1)),
      // No retries: the next minute's pass picks up whatever this one left.
      targets: [
        new eventsTargets.LambdaFunction(this.function, { retryAttempts: 0, maxEventAge: Duration.minutes(1) }),
      ],
    });
  }
}
