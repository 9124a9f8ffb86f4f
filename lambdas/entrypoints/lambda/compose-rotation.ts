import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SFNClient } from '@aws-sdk/client-sfn';
import { EventBridgeRotationEvents } from '../../adapters/aws/rotation/eventbridge-events.ts';
import { SchedulerRotationSchedules } from '../../adapters/aws/rotation/scheduler-schedules.ts';
import { StepFunctionsRotationLauncher } from '../../adapters/aws/rotation/step-functions-launcher.ts';
import type { RotationPorts } from '../compose-services.ts';
import type { AwsConfig, RotationConfig } from './config.ts';

/** The SDK clients rotation talks through. Injected ones belong to the caller (tests point them at an emulator). */
export interface RotationClients {
  /** Starts workflow executions. @default a client of the configured region and endpoint */
  readonly sfn?: SFNClient;
  /** Keeps one schedule per secret. @default a client of the configured region and endpoint */
  readonly scheduler?: SchedulerClient;
  /** Publishes rotation events. @default a client of the configured region and endpoint */
  readonly eventBridge?: EventBridgeClient;
}

/** Builds the rotation clients of `config`: its region, and its endpoint when an emulator is configured. */
export function createRotationClients(config: Pick<AwsConfig, 'region' | 'endpoint'>): Required<RotationClients> {
  const common = { region: config.region, ...(config.endpoint !== undefined && { endpoint: config.endpoint }) };
  return {
    sfn: new SFNClient(common),
    scheduler: new SchedulerClient(common),
    eventBridge: new EventBridgeClient(common),
  };
}

/**
 * Rotation's ports on AWS: executions on Step Functions (the rotation function runs the steps), one EventBridge
 * Scheduler schedule per secret invoking the rotation function, events on EventBridge. The rotation service itself
 * is composed like every other service (`composeServices`), for the broker and the rotation function alike.
 */
export function awsRotationPorts(
  rotation: RotationConfig,
  config: Pick<AwsConfig, 'region' | 'endpoint'>,
  clients: RotationClients | undefined,
): RotationPorts {
  const { sfn, scheduler, eventBridge } = clients ?? {};
  const defaults = sfn && scheduler && eventBridge ? undefined : createRotationClients(config);
  return {
    launcher: () =>
      new StepFunctionsRotationLauncher({
        client: sfn ?? defaults!.sfn,
        stateMachineArn: rotation.stateMachineArn,
      }),
    schedules: new SchedulerRotationSchedules({
      client: scheduler ?? defaults!.scheduler,
      groupName: rotation.scheduleGroup,
      targetArn: rotation.targetArn,
      roleArn: rotation.schedulerRoleArn,
    }),
    events: new EventBridgeRotationEvents({
      client: eventBridge ?? defaults!.eventBridge,
      eventBusName: rotation.eventBusName,
    }),
  };
}
