import path from 'node:path';
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { REPO_ROOT } from './broker-bundling.ts';
import { CofferFunction } from './coffer-function.ts';
import { functionRole } from './function-role.ts';

/** The sweeper Lambda's entry module. */
export const LEASE_SWEEPER_ENTRY = path.join(REPO_ROOT, 'lambdas/entrypoints/lambda/lease-sweeper-handler.ts');

export interface CofferLeaseSweeperProps {
  /** The items table holding the leases. */
  readonly tableName: string;
  /** The envelope key: a database connection's admin credential is a Coffer secret, unwrapped to revoke its users. */
  readonly envelopeKeyArn: string;
  /** @default 'coffer' (used in descriptions) */
  readonly deploymentName?: string;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /** @default RETAIN (the log group) */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The lease sweeper: AWS's expiry enforcement for dynamic credentials. An EventBridge rule runs it every minute; each
 * run is one `LeaseService.sweep` pass (revoke expired leases at their target, retry failed revocations, finish
 * interrupted revoke-prefix jobs). Reserved concurrency 1: passes never overlap.
 *
 * Its role starts with its own log group only; {@link CofferControlPlane} grants the table (`grantStore`) and the
 * envelope key (`grantEnvelope`, to read a database connection's admin secret).
 *
 * @example
 * ```ts
 * const sweeper = new CofferLeaseSweeper(this, 'LeaseSweeper', { tableName, envelopeKeyArn });
 * plane.grantStore(sweeper.role);
 * plane.grantEnvelope(sweeper.role);
 * ```
 */
export class CofferLeaseSweeper extends Construct {
  readonly function: CofferFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly schedule: events.Rule;

  constructor(scope: Construct, id: string, props: CofferLeaseSweeperProps) {
    super(scope, id);
    const name = props.deploymentName ?? 'coffer';

    ({ logGroup: this.logGroup, role: this.role } = functionRole(this, {
      description: `Coffer (${name}): the lease sweeper`,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
    }));

    this.function = new CofferFunction(this, 'Function', {
      description: `Coffer (${name}): revokes expired leases of dynamic credentials`,
      entry: LEASE_SWEEPER_ENTRY,
      memorySize: 512,
      // A pass revokes in batches; a large backlog is finished by the next runs, not by one long run.
      timeout: Duration.seconds(55),
      reservedConcurrentExecutions: 1,
      role: this.role,
      logGroup: this.logGroup,
      environment: {
        COFFER_TABLE_NAME: props.tableName,
        COFFER_ENVELOPE_KEY_ARN: props.envelopeKeyArn,
      },
    });

    this.schedule = new events.Rule(this, 'Schedule', {
      description: `Coffer (${name}): one lease sweep pass`,
      schedule: events.Schedule.rate(Duration.minutes(1)),
      // No retries: the next minute's pass picks up whatever this one left.
      targets: [
        new eventsTargets.LambdaFunction(this.function, { retryAttempts: 0, maxEventAge: Duration.minutes(1) }),
      ],
    });
  }
}
