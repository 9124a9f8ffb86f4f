import { aws_iam as iam, aws_logs as logs, type RemovalPolicy } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

export interface FunctionRoleProps {
  /** The role's description, e.g. `Coffer (prod): the broker function`. */
  readonly description: string;
  /** @default one year */
  readonly logRetention?: logs.RetentionDays | undefined;
  readonly removalPolicy?: RemovalPolicy | undefined;
}

/**
 * The log group and execution role every Coffer function starts from (ids `LogGroup` and `Role` in `scope`): the role
 * may write to that log group only — no AWSLambdaBasicExecutionRole, which grants logs:CreateLogGroup on every group.
 */
export function functionRole(scope: Construct, props: FunctionRoleProps): { logGroup: logs.LogGroup; role: iam.Role } {
  const logGroup = new logs.LogGroup(scope, 'LogGroup', {
    retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
    ...(props.removalPolicy !== undefined && { removalPolicy: props.removalPolicy }),
  });
  const role = new iam.Role(scope, 'Role', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: props.description,
  });
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }),
  );
  return { logGroup, role };
}
