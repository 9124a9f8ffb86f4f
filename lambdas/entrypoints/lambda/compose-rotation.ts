import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SFNClient } from '@aws-sdk/client-sfn';
import { EventBridgeRotationEvents } from '../../adapters/aws/rotation/eventbridge-events.ts';
import { SchedulerRotationSchedules } from '../../adapters/aws/rotation/scheduler-schedules.ts';
import { StepFunctionsRotationLauncher } from '../../adapters/aws/rotation/step-functions-launcher.ts';
import { DnsEgressGuard, guardedFetch } from '../../adapters/egress/dns-egress-guard.ts';
import type { AuditLog } from '../../core/audit/audit-log.ts';
import { EgressPolicy } from '../../core/egress/egress-policy.ts';
import type { Clock } from '../../core/ports/clock.ts';
import type { Store } from '../../core/ports/store.ts';
import { RotationService } from '../../core/rotation/rotation-service.ts';
import type { SecretService } from '../../core/secrets/secret-service.ts';
import type { PkiService } from '../../engines/pki/pki-service.ts';
import { createRotators } from '../../engines/rotation/registry.ts';
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

export interface ComposeRotationOptions {
  /** The store the broker writes through (on AWS the audit outbox's `OutboxStore`). */
  readonly store: Store;
  readonly secrets: SecretService;
  readonly audit: AuditLog;
  /** Certificate rotation re-issues from it. */
  readonly pki: PkiService;
  readonly clock: Clock;
  /** Where the workflow, the schedules and the events are. */
  readonly rotation: RotationConfig;
  readonly config: Pick<AwsConfig, 'region' | 'endpoint' | 'egressAllow'>;
  /** @default clients of the configured region and endpoint */
  readonly clients?: RotationClients | undefined;
  /** For the HTTP API-key rotator. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/**
 * The rotation service on AWS: executions on Step Functions, one EventBridge Scheduler schedule per secret invoking
 * the rotation function, events on EventBridge; every rotation engine (`createRotators`). Used by both the broker
 * (configure, on-demand and breach rotations) and the rotation function (steps, scheduled rotations, the sweep).
 * Synchronous and free of I/O, so it runs at cold start.
 *
 * @example
 * ```ts
 * const rotation = config.rotation && composeRotation({ store, secrets, audit, pki, clock, rotation: config.rotation, config });
 * ```
 */
export function composeRotation(options: ComposeRotationOptions): RotationService {
  const { store, secrets, audit, pki, clock, rotation } = options;
  const { sfn, scheduler, eventBridge } = options.clients ?? {};
  const defaults = sfn && scheduler && eventBridge ? undefined : createRotationClients(options.config);
  const egress = new DnsEgressGuard(EgressPolicy.parse(options.config.egressAllow));
  return new RotationService({
    store,
    secrets,
    clock,
    audit,
    egress,
    rotators: createRotators({
      store,
      clock,
      pki,
      fetch: options.fetch ?? guardedFetch(egress, 'api-key-http provider'),
    }),
    launcher: new StepFunctionsRotationLauncher({
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
  });
}
