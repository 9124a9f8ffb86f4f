import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditPrincipal } from '../audit/audit-types.ts';
import type { EgressGuard } from '../egress/egress-policy.ts';
import { CofferError, ConflictError, InvalidRequestError, NotFoundError, ValidationError } from '../errors.ts';
import type { ResourceReference } from '../policy/policy-types.ts';
import type { Clock } from '../ports/clock.ts';
import type { RotationEventPublisher, RotationLauncher, RotationScheduleSync } from '../ports/rotation.ts';
import { ConditionFailedError, type Store, type StoredItem, type WriteOp } from '../ports/store.ts';
import { retryOnConflict } from '../retry.ts';
import type { SecretService } from '../secrets/secret-service.ts';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS, type SecretValue } from '../secrets/secret-types.ts';
import { type ComplianceFigures, complianceFigures } from './rotation-compliance.ts';
import {
  type MemberBefore,
  REVOCATION_PK,
  type RevocationRecord,
  ROTATION_CONFIG_PK,
  ROTATION_GROUP_PK,
  ROTATION_LOCK_PK,
  ROTATION_PK,
  type RotationConfigRecord,
  type RotationGroupRecord,
  type RotationLockRecord,
  type RotationRecord,
  revocationKey,
} from './rotation-records.ts';
import {
  ROTATION_TYPES,
  type RotationGrant,
  type RotationRules,
  type RotationSecrets,
  type RotationStep,
  RotationStepError,
  type RotationTrigger,
  type RotationType,
  type Rotator,
  type RotatorContext,
  type RotatorRegistry,
} from './rotation-types.ts';
import {
  ROTATION_EVENTS,
  type RotationExecutionInput,
  type RotationFailureDetail,
  type StepTaskInput,
} from './rotation-workflow.ts';
import { nextRotationAt, RotationRulesSchema } from './schedule/rotation-rules.ts';

export interface RotationServiceOptions {
  readonly store: Store;
  readonly secrets: SecretService;
  readonly clock: Clock;
  readonly rotators: RotatorRegistry;
  readonly launcher: RotationLauncher;
  readonly schedules: RotationScheduleSync;
  readonly events: RotationEventPublisher;
  readonly audit: AuditLog;
  /** Checks the outbound targets rotators connect to. */
  readonly egress: EgressGuard;
}

export interface ConfigureRotationInput {
  readonly secretId: string;
  readonly type: RotationType;
  readonly settings?: Record<string, unknown> | undefined;
  readonly rules?: RotationRules | undefined;
  /**
   * Who configures, in which request: recorded as the rotation's grant together with `references(type, settings)`,
   * which the caller must already have been authorised for. Without it, only the schedule or the enabled flag may
   * change: the type and settings must equal the stored ones, whose grant is kept.
   */
  readonly grant?: Omit<RotationGrant, 'grantedAt' | 'references'> | undefined;
}

export interface RotationStarted {
  readonly rotationId: string;
  readonly secrets: string[];
  /** False when the request token named a rotation that already existed (a retried trigger). */
  readonly started: boolean;
}

/** The view of a rotation config callers see. */
export type RotationConfigView = Omit<RotationConfigRecord, 'breachRequestedAt'>;

const SYSTEM: AuditPrincipal = { type: 'system', id: 'coffer-rotation', displayName: 'rotation', policies: [] };
/** How long the scheduler waits after a failed rotation before starting that secret's rotation again. */
const RETRY_AFTER_FAILURE_MS = 15 * 60_000;
const REVOCATION_BACKOFF_MS = [10_000, 30_000, 60_000, 300_000, 900_000];
const PAGE = 500;
/**
 * Attempts of a read-modify-write of a rotation's records. These loops had no bound: a rotation's records change a
 * few times per step, so 20 lost races in a row mean a writer gone wrong, and failing beats spinning.
 */
const ROTATION_WRITE_ATTEMPTS = 20;

/**
 * Rotation of secrets through the four Secrets Manager steps, for one secret or a coordinated group.
 *
 * `rotate` takes the rotation locks and records the rotation (one transaction), then asks the launcher to run the
 * workflow; the workflow calls `runStep` for each step and `rollback` on failure. Every step is idempotent: it finds
 * its own earlier work by the request token (the new version's id), so a retried or replayed step does nothing twice.
 * Labels move only through `SecretService.setRotationStages`, one write each, so AWSPENDING can never be left on the
 * current version.
 */
export class RotationService {
  readonly #store: Store;
  readonly #secrets: SecretService;
  readonly #clock: Clock;
  readonly #rotators: RotatorRegistry;
  readonly #launcher: RotationLauncher;
  readonly #schedules: RotationScheduleSync;
  readonly #events: RotationEventPublisher;
  readonly #audit: AuditLog;
  readonly #egress: EgressGuard;

  constructor(options: RotationServiceOptions) {
    this.#store = options.store;
    this.#secrets = options.secrets;
    this.#clock = options.clock;
    this.#rotators = options.rotators;
    this.#launcher = options.launcher;
    this.#schedules = options.schedules;
    this.#events = options.events;
    this.#audit = options.audit;
    this.#egress = options.egress;
  }

  // ---- configuration -------------------------------------------------------------------------------------------

  /** Turns rotation on for a secret (or changes its type, settings or schedule). */
  async configure(input: ConfigureRotationInput): Promise<RotationConfigView> {
    if (!(ROTATION_TYPES as readonly string[]).includes(input.type)) {
      throw new ValidationError(`type must be one of ${ROTATION_TYPES.join(', ')}`);
    }
    const rotator = this.#rotators[input.type] as Rotator<unknown>;
    const parsed = rotator.parseSettings(input.settings ?? {});
    const settings = parsed as Record<string, unknown>;
    const rules = input.rules === undefined ? undefined : parseRules(input.rules);
    const { name } = await this.#secrets.describe({ secretId: input.secretId });
    if (input.grant !== undefined) await rotator.checkTargets?.(parsed, this.#egress);
    const target = input.grant === undefined ? undefined : await this.#pinTarget(rotator, name, input.type);
    const now = this.#clock.now();
    const written = await retryOnConflict(
      async () => {
        const item = await this.#store.get<RotationConfigRecord>(ROTATION_CONFIG_PK, name);
        const base = item?.data;
        let grant: RotationGrant | undefined;
        if (input.grant !== undefined) {
          grant = { ...input.grant, grantedAt: now, references: rotator.references(parsed), ...(target && { target }) };
        } else if (
          base !== undefined &&
          base.type === input.type &&
          JSON.stringify(base.settings) === JSON.stringify(settings)
        ) {
          grant = base.grant;
        } else {
          // A programming error, not a caller's: every route that changes type or settings passes the caller's grant.
          throw new InvalidRequestError(`changing the rotation type or settings of ${name} needs the caller's grant`);
        }
        const next: RotationConfigRecord = {
          ...base,
          name,
          type: input.type,
          settings,
          rules,
          enabled: true,
          createdAt: base?.createdAt ?? now,
          updatedAt: now,
          grant,
        };
        next.nextRotationAt = await this.#nextDue(next, now);
        await this.#store.transact([
          {
            type: 'put',
            pk: ROTATION_CONFIG_PK,
            sk: name,
            data: next,
            condition: item === undefined ? { kind: 'absent' } : { kind: 'rev', rev: item.rev },
          },
        ]);
        return next;
      },
      {
        maxAttempts: ROTATION_WRITE_ATTEMPTS,
        onExhausted: () => new ConflictError(`the rotation of ${name} is being changed concurrently; retry`),
      },
    );
    if (rules === undefined) await this.#schedules.delete(name);
    else await this.#schedules.put(name, rules);
    return viewOf(written);
  }

  /** The target the secret's current value names, for rotators that pin one (see `Rotator.target`). */
  async #pinTarget(
    rotator: Rotator<unknown>,
    name: string,
    type: RotationType,
  ): Promise<Readonly<Record<string, string>> | undefined> {
    if (rotator.target === undefined) return undefined;
    const current = await this.#secrets.get({ secretId: name }).then(
      (got) => got.value,
      (error: unknown) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      },
    );
    if (current === undefined) {
      throw new InvalidRequestError(
        `secret ${name} has no current value: put the value naming its target before configuring ${type} rotation`,
      );
    }
    try {
      return rotator.target(current);
    } catch (error) {
      if (error instanceof RotationStepError) {
        throw new ValidationError(`the current value of ${name} cannot be rotated as ${type}: ${error.message}`);
      }
      throw error;
    }
  }

  /**
   * The resources a rotation of `type` with `settings` would use, each with its capability: the caller configuring
   * it must hold them all (the broker checks them before `configure`).
   * @throws ValidationError when the settings do not parse
   */
  references(type: RotationType, settings: Record<string, unknown> | undefined): ResourceReference[] {
    if (!(ROTATION_TYPES as readonly string[]).includes(type)) {
      throw new ValidationError(`type must be one of ${ROTATION_TYPES.join(', ')}`);
    }
    const rotator = this.#rotators[type] as Rotator<unknown>;
    return rotator.references(rotator.parseSettings(settings ?? {}));
  }

  /** Changes only the schedule of a configured secret (Secrets Manager's RotateSecret with RotationRules). */
  async setRules(secretId: string, rules: RotationRules): Promise<RotationConfigView> {
    const config = await this.config(secretId);
    return this.configure({ secretId: config.name, type: config.type, settings: config.settings, rules });
  }

  /** The rotation config of a secret. @throws NotFoundError when rotation is not configured */
  async config(secretId: string): Promise<RotationConfigView> {
    const { name } = await this.#secrets.describe({ secretId });
    const item = await this.#store.get<RotationConfigRecord>(ROTATION_CONFIG_PK, name);
    if (item === undefined) throw new NotFoundError(`no rotation is configured for secret ${name}`);
    return viewOf(item.data);
  }

  /** Turns rotation off (AWS CancelRotateSecret): the schedule goes; a rotation already running finishes. */
  async disable(secretId: string): Promise<RotationConfigView | undefined> {
    const { name } = await this.#secrets.describe({ secretId });
    const item = await this.#store.get<RotationConfigRecord>(ROTATION_CONFIG_PK, name);
    if (item === undefined) return undefined;
    const next: RotationConfigRecord = { ...item.data, enabled: false, nextRotationAt: undefined };
    await this.#updateConfig(name, () => next);
    await this.#schedules.delete(name);
    return viewOf(next);
  }

  /**
   * The secrets a rotation of `secretId` would rotate: its group's members, or the secret alone. The API authorises
   * `rotate` on each before starting, since a group rotation changes every member.
   */
  async groupMembers(secretId: string): Promise<string[]> {
    const { name } = await this.#secrets.describe({ secretId });
    const config = await this.#store.get<RotationConfigRecord>(ROTATION_CONFIG_PK, name);
    if (config?.data.group === undefined) return [name];
    const group = await this.#store.get<RotationGroupRecord>(ROTATION_GROUP_PK, config.data.group);
    return group === undefined ? [name] : [...group.data.members];
  }

  /**
   * The rotation configs of the named secrets (by name, as stored), for a page of a listing: at most `names.length`
   * + 1 items are read whatever the number of configs, so a page costs the same at 100 secrets and at 100,000. When
   * all configs fit in one read of that size they come from it (one query); otherwise each name is read on its own.
   */
  async configsOf(names: readonly string[]): Promise<Map<string, RotationConfigView>> {
    const wanted = new Set(names);
    const found = new Map<string, RotationConfigView>();
    if (wanted.size === 0) return found;
    const first = await this.#store.query<RotationConfigRecord>(ROTATION_CONFIG_PK, { limit: wanted.size + 1 });
    if (first.lastKey === undefined) {
      for (const item of first.items) if (wanted.has(item.sk)) found.set(item.sk, viewOf(item.data));
      return found;
    }
    const items = await Promise.all(
      [...wanted].map((name) => this.#store.get<RotationConfigRecord>(ROTATION_CONFIG_PK, name)),
    );
    for (const item of items) if (item !== undefined) found.set(item.sk, viewOf(item.data));
    return found;
  }

  /** Every rotation config, in name order. */
  async listConfigs(): Promise<RotationConfigView[]> {
    const out: RotationConfigView[] = [];
    for await (const item of this.#scan<RotationConfigRecord>(ROTATION_CONFIG_PK)) out.push(viewOf(item.data));
    return out;
  }

  /** Defines a coordinated group: rotating any member rotates all, and either all finish or all roll back. */
  async putGroup(name: string, members: readonly string[]): Promise<RotationGroupRecord> {
    if (!/^[A-Za-z0-9_.-]{1,128}$/.test(name)) {
      throw new ValidationError('group name must be 1–128 letters, digits, ".", "_" or "-"');
    }
    const unique = [...new Set(members)];
    if (unique.length < 2 || unique.length > 20) throw new ValidationError('a rotation group has 2 to 20 members');
    const names: string[] = [];
    for (const member of unique) {
      const config = await this.config(member);
      if (config.group !== undefined && config.group !== name) {
        throw new ConflictError(`secret ${config.name} already belongs to rotation group ${config.group}`);
      }
      names.push(config.name);
    }
    const group: RotationGroupRecord = { name, members: names, createdAt: this.#clock.now() };
    await this.#store.transact([{ type: 'put', pk: ROTATION_GROUP_PK, sk: name, data: group }]);
    for (const member of names) await this.#updateConfig(member, (config) => ({ ...config, group: name }));
    return group;
  }

  // ---- triggers ------------------------------------------------------------------------------------------------

  /**
   * Starts a rotation of `secretId` (and of its group's other members). Idempotent by `clientRequestToken`: the
   * same token names the same rotation, and a second start with it does not start another.
   *
   * @throws InvalidRequestError when rotation is not configured or turned off
   * @throws ConflictError when a rotation of the secret (or a group member) is in progress
   */
  async rotate(input: {
    secretId: string;
    clientRequestToken?: string | undefined;
    trigger: RotationTrigger;
  }): Promise<RotationStarted> {
    const token = input.clientRequestToken ?? randomUUID();
    if (!/^[A-Za-z0-9_-]{32,64}$/.test(token)) {
      throw new ValidationError('clientRequestToken must be 32–64 letters, digits, "-" or "_"');
    }
    const existing = await this.#store.get<RotationRecord>(ROTATION_PK, token);
    if (existing !== undefined) {
      if (existing.data.status === 'running' || existing.data.status === 'rolling-back') {
        await this.#launcher.launch(executionInput(existing.data));
      }
      return { rotationId: token, secrets: existing.data.secrets, started: false };
    }
    const { name } = await this.#secrets.describe({ secretId: input.secretId });
    const config = await this.#store.get<RotationConfigRecord>(ROTATION_CONFIG_PK, name);
    if (config === undefined || !config.data.enabled) {
      throw new InvalidRequestError(`no rotation is configured for secret ${name}`);
    }
    const members = await this.#membersOf(config.data);
    const before: Record<string, MemberBefore> = {};
    for (const member of members) {
      const described = await this.#secrets.describe({ secretId: member });
      const stages = Object.entries(described.versionIdsToStages);
      const labelled = (label: string) => stages.find(([, labels]) => labels.includes(label))?.[0];
      const pending = labelled(AWSPENDING);
      if (pending !== undefined && pending !== labelled(AWSCURRENT)) {
        throw new ConflictError(
          `a rotation of secret ${member} is in progress: AWSPENDING is on version ${pending}; it will be retried`,
        );
      }
      before[member] = { current: labelled(AWSCURRENT), previous: labelled(AWSPREVIOUS) };
    }
    const now = this.#clock.now();
    const record: RotationRecord = {
      rotationId: token,
      token,
      secrets: members,
      trigger: input.trigger,
      status: 'running',
      before,
      startedAt: now,
    };
    const ops: WriteOp[] = [
      { type: 'put', pk: ROTATION_PK, sk: token, data: record, condition: { kind: 'absent' } },
      ...members.map(
        (member): WriteOp => ({
          type: 'put',
          pk: ROTATION_LOCK_PK,
          sk: member,
          data: { name: member, rotationId: token, acquiredAt: now } satisfies RotationLockRecord,
          condition: { kind: 'absent' },
        }),
      ),
    ];
    try {
      await this.#store.transact(ops);
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      if (error.index === 0) return { rotationId: token, secrets: members, started: false };
      const lock = await this.#store.get<RotationLockRecord>(ROTATION_LOCK_PK, error.sk);
      throw new ConflictError(
        `rotation in progress: secret ${error.sk} is being rotated by rotation ${lock?.data.rotationId ?? 'unknown'}`,
        { details: { rotationId: lock?.data.rotationId } },
      );
    }
    try {
      await this.#launcher.launch(executionInput(record));
    } catch (error) {
      // Nothing ran: undo the start so the secret is not locked by a rotation that does not exist.
      await this.#store.transact([
        { type: 'delete', pk: ROTATION_PK, sk: token },
        ...members.map((member): WriteOp => ({ type: 'delete', pk: ROTATION_LOCK_PK, sk: member })),
      ]);
      throw error;
    }
    if (input.trigger !== 'on-demand') {
      // On-demand starts are audited as the request that asked for them; the others have no request.
      await this.#record('rotation.start', members, token, 'ok', { trigger: input.trigger });
    }
    return { rotationId: token, secrets: members, started: true };
  }

  /**
   * A breach: rotates at once, and the credential that was current is revoked as soon as the new one is in place,
   * with no grace period. Audited and published. A rotation already running is told to revoke at its end instead.
   */
  async compromised(input: { secretId: string; reason?: string | undefined }): Promise<RotationStarted> {
    const { name } = await this.#secrets.describe({ secretId: input.secretId });
    const reason = (input.reason ?? '').slice(0, 512);
    await this.#record('rotation.compromised', [name], undefined, 'ok', { reason });
    await this.#events.publish(ROTATION_EVENTS.compromised, { secret: name, reason, time: iso(this.#clock.now()) });
    try {
      return await this.rotate({ secretId: name, trigger: 'breach' });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      const lock = await this.#store.get<RotationLockRecord>(ROTATION_LOCK_PK, name);
      await this.#updateConfig(name, (config) => ({ ...config, breachRequestedAt: this.#clock.now() }));
      const rotation = lock === undefined ? undefined : await this.#rotation(lock.data.rotationId);
      return { rotationId: lock?.data.rotationId ?? 'unknown', secrets: rotation?.secrets ?? [name], started: false };
    }
  }

  /** Starts every scheduled rotation that is due (the local scheduler's tick; missed ones run at start-up). */
  async rotateDue(): Promise<RotationStarted[]> {
    const now = this.#clock.now();
    const started: RotationStarted[] = [];
    const seen = new Set<string>();
    for await (const { data } of this.#scan<RotationConfigRecord>(ROTATION_CONFIG_PK)) {
      if (!data.enabled || data.nextRotationAt === undefined || data.nextRotationAt > now || seen.has(data.name)) {
        continue;
      }
      // A rotation that just failed is not retried at every tick; it stays due (and overdue) meanwhile.
      if (data.retryAfter !== undefined && data.retryAfter > now) continue;
      try {
        const result = await this.rotate({ secretId: data.name, trigger: 'schedule' });
        for (const member of result.secrets) seen.add(member);
        started.push(result);
      } catch (error) {
        // A running rotation covers the schedule; a secret deleted since is simply skipped.
        if (
          !(error instanceof ConflictError || error instanceof NotFoundError || error instanceof InvalidRequestError)
        ) {
          throw error;
        }
      }
    }
    return started;
  }

  /**
   * Rotations a restarted local runner must pick up: running ones resume, rolling-back ones finish rolling back.
   * Each is audited and published as interrupted, so the crash is visible even when the resumed rotation succeeds.
   *
   * @param adopt where nodes share the store, takes a rotation over for this node (its runner's claim): only the
   *   rotations it adopts are returned, so a rotation another live node runs is neither resumed nor reported.
   *   @default every unfinished rotation (the store's only node, after a restart)
   */
  async interrupted(adopt?: (rotationId: string) => Promise<boolean>): Promise<RotationExecutionInput[]> {
    const out: RotationExecutionInput[] = [];
    for await (const { data } of this.#scan<RotationRecord>(ROTATION_PK)) {
      if (data.status !== 'running' && data.status !== 'rolling-back') continue;
      if (adopt !== undefined && !(await adopt(data.rotationId))) continue;
      const action = data.status === 'running' ? 'resume' : 'finish-rollback';
      await this.#record('rotation.interrupted', data.secrets, data.rotationId, 'error', { step: data.step, action });
      await this.#events.publish(ROTATION_EVENTS.interrupted, {
        rotationId: data.rotationId,
        secrets: data.secrets,
        step: data.step ?? 'unknown',
        action,
      });
      out.push(executionInput(data));
    }
    return out;
  }

  // ---- the workflow's steps ------------------------------------------------------------------------------------

  /** One task of the workflow: a step for every member, or the rollback. */
  async runStep(input: StepTaskInput): Promise<Record<string, unknown>> {
    const rotation = await this.#rotation(input.Rotation.RotationId);
    if (rotation === undefined) throw new RotationStepError(`unknown rotation ${input.Rotation.RotationId}`);
    if (input.Step === 'rollback') return { ...(await this.#rollback(rotation, input.Rotation.Error)) };
    if (rotation.status !== 'running') {
      // A late retry of a step whose rotation already ended: nothing to do.
      return { skipped: true, status: rotation.status };
    }
    if (rotation.step !== input.Step)
      await this.#updateRotation(rotation.rotationId, (r) => ({ ...r, step: input.Step as RotationStep }));
    for (const member of rotation.secrets) await this.#memberStep(input.Step, rotation, member);
    if (input.Step === 'finishSecret') await this.#finished(rotation);
    return { step: input.Step, secrets: rotation.secrets };
  }

  async #memberStep(step: RotationStep, rotation: RotationRecord, member: string): Promise<void> {
    const { config, rotator } = await this.#configOf(member);
    const before = rotation.before[member] ?? {};
    switch (step) {
      case 'createSecret': {
        if (await this.#hasVersion(member, rotation.token)) return;
        const value = await rotator.createValue(
          this.#onPinnedTarget(rotator, config, await this.#context(rotation, member, config, before)),
        );
        await this.#secrets.put({
          secretId: member,
          value,
          clientRequestToken: rotation.token,
          versionStages: [AWSPENDING],
        });
        return;
      }
      case 'setSecret': {
        const pending = await this.#pending(member, rotation.token);
        await rotator.setSecret(
          this.#onPinnedTarget(rotator, config, await this.#context(rotation, member, config, before)),
          pending,
        );
        return;
      }
      case 'testSecret': {
        const pending = await this.#pending(member, rotation.token);
        await rotator.testSecret(
          this.#onPinnedTarget(rotator, config, await this.#context(rotation, member, config, before)),
          pending,
        );
        return;
      }
      case 'finishSecret': {
        const current = await this.#currentVersion(member);
        if (current === rotation.token) return;
        await this.#pending(member, rotation.token);
        await this.#secrets.setRotationStages({
          secretId: member,
          current: rotation.token,
          previous: current,
          pending: undefined,
        });
        return;
      }
    }
  }

  async #finished(rotation: RotationRecord): Promise<void> {
    const now = this.#clock.now();
    for (const member of rotation.secrets) {
      const { config, rotator } = await this.#configOf(member);
      const before = rotation.before[member] ?? {};
      const breach = rotation.trigger === 'breach' || (config.breachRequestedAt ?? 0) >= rotation.startedAt;
      if (before.current !== undefined) {
        const ctx = await this.#context(rotation, member, config, before, breach);
        const previous = await this.#valueOf(member, before.current);
        const retired = previous === undefined ? undefined : await rotator.retire(ctx, previous);
        if (retired !== undefined && (breach || retired.afterMs !== undefined)) {
          const dueAt = breach ? now : now + (retired.afterMs ?? 0);
          const revocation: RevocationRecord = {
            id: `${rotation.rotationId}:${member}`,
            secretName: member,
            type: config.type,
            settings: config.settings,
            handle: retired.handle,
            dueAt,
            attempts: 0,
            rotationId: rotation.rotationId,
            grant: config.grant,
          };
          if (breach) {
            // Revoke at once; a failure leaves the revocation queued and due, so the sweeper keeps trying.
            try {
              await rotator.revoke(
                config.settings,
                retired.handle,
                this.#readerFor(member, config.grant, rotation.rotationId),
              );
              await this.#record('rotation.revoke', [member], rotation.rotationId, 'ok', { breach: true });
            } catch (error) {
              await this.#queueRevocation({ ...revocation, attempts: 1, lastError: messageOf(error) });
            }
          } else {
            await this.#queueRevocation(revocation);
          }
        }
      }
      await this.#updateConfig(member, (c) => ({
        ...c,
        lastRotatedAt: now,
        lastRotationId: rotation.rotationId,
        lastStatus: 'succeeded',
        lastError: undefined,
        retryAfter: undefined,
        breachRequestedAt: breach ? undefined : c.breachRequestedAt,
      }));
      await this.#refreshNextDue(member);
    }
    await this.#end(rotation, { status: 'succeeded', finishedAt: now });
    await this.#record('rotation.succeeded', rotation.secrets, rotation.rotationId, 'ok', {
      trigger: rotation.trigger,
      durationMs: now - rotation.startedAt,
    });
  }

  async #rollback(
    rotation: RotationRecord,
    caught: StepTaskInput['Rotation']['Error'],
  ): Promise<RotationFailureDetail> {
    const failedStep = rotation.step ?? 'unknown';
    const error = caught?.Error ?? rotation.error ?? 'RotationFailed';
    const message = causeMessage(caught?.Cause) ?? rotation.message ?? 'the rotation failed';
    const detail: RotationFailureDetail = {
      rotationId: rotation.rotationId,
      secrets: rotation.secrets,
      trigger: rotation.trigger,
      failedStep,
      error,
      message,
    };
    if (rotation.status === 'failed') return detail;
    if (rotation.status !== 'rolling-back') {
      await this.#updateRotation(rotation.rotationId, (r) => ({ ...r, status: 'rolling-back', error, message }));
    }
    const problems: string[] = [];
    for (const member of [...rotation.secrets].reverse()) {
      try {
        await this.#rollbackMember(rotation, member);
      } catch (cause) {
        problems.push(`${member}: ${messageOf(cause)}`);
      }
    }
    if (problems.length > 0) {
      // Thrown so the workflow retries the whole (idempotent) rollback; the rotation stays locked meanwhile.
      throw new RotationStepError(`rollback incomplete: ${problems.join('; ')}`);
    }
    const now = this.#clock.now();
    for (const member of rotation.secrets) {
      await this.#updateConfig(member, (c) => ({
        ...c,
        lastStatus: 'failed',
        lastError: `${failedStep}: ${message}`.slice(0, 1024),
        retryAfter: now + RETRY_AFTER_FAILURE_MS,
      }));
    }
    // Recorded before the status says failed: whoever sees the failure can find its audit record.
    await this.#record('rotation.failed', rotation.secrets, rotation.rotationId, 'error', {
      trigger: rotation.trigger,
      failedStep,
      error,
      message,
    });
    await this.#end(rotation, { status: 'failed', finishedAt: now, error, message });
    return detail;
  }

  async #rollbackMember(rotation: RotationRecord, member: string): Promise<void> {
    const described = await this.#secrets.describe({ secretId: member }).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
    if (described === undefined) return;
    // A rollback must run even for a config whose grant no longer covers its settings: it undoes, and the reader
    // still refuses any read outside the grant.
    const { config, rotator } = await this.#configOf(member, false);
    const before = rotation.before[member] ?? {};
    // The target first, labels after: until the target accepts the old credential again, AWSPENDING still names
    // the one it does accept, so a client that refreshes always finds a working credential. The labels are put
    // back even when the target's rollback fails (the workflow retries it), so no AWSPENDING is left behind.
    // Only a member this rotation already finished (a group whose later member failed) gets its old labels back;
    // otherwise AWSCURRENT stays where it is, even if someone put a new value meanwhile.
    const pending = await this.#valueOf(member, rotation.token);
    const ctx = await this.#context(rotation, member, config, before);
    try {
      // A value naming another target than the pinned one never reached it (the steps refuse it): nothing to undo.
      if (this.#targetMatches(rotator, config, ctx.current)) await rotator.rollback(ctx, pending);
    } finally {
      const current = Object.entries(described.versionIdsToStages).find(([, l]) => l.includes(AWSCURRENT))?.[0];
      if (current === rotation.token && before.current !== undefined) {
        await this.#secrets.setRotationStages({
          secretId: member,
          current: before.current,
          previous: before.previous,
          pending: undefined,
        });
      } else if (described.versionIdsToStages[rotation.token]?.includes(AWSPENDING)) {
        await this.#secrets.updateVersionStage({
          secretId: member,
          versionStage: AWSPENDING,
          removeFromVersionId: rotation.token,
        });
      }
    }
  }

  // ---- revocations ---------------------------------------------------------------------------------------------

  /** Revokes every retired credential whose overlap has ended. Failures are retried with backoff. */
  async sweepRevocations(): Promise<{ revoked: number; failed: number }> {
    const now = this.#clock.now();
    let revoked = 0;
    let failed = 0;
    const due = await this.#store.query<RevocationRecord>(REVOCATION_PK, { limit: PAGE });
    for (const item of due.items) {
      const revocation = item.data;
      if (revocation.dueAt > now) break;
      const rotator = this.#rotators[revocation.type] as Rotator<unknown>;
      try {
        const reader = this.#readerFor(revocation.secretName, revocation.grant, revocation.rotationId);
        await rotator.revoke(revocation.settings, revocation.handle, reader);
        await this.#store.transact([{ type: 'delete', pk: REVOCATION_PK, sk: item.sk }]);
        await this.#record('rotation.revoke', [revocation.secretName], revocation.rotationId, 'ok', {});
        revoked++;
      } catch (error) {
        failed++;
        const attempts = revocation.attempts + 1;
        const dueAt = now + (REVOCATION_BACKOFF_MS[Math.min(attempts, REVOCATION_BACKOFF_MS.length) - 1] ?? 900_000);
        const next: RevocationRecord = { ...revocation, attempts, dueAt, lastError: messageOf(error) };
        await this.#store.transact([
          { type: 'delete', pk: REVOCATION_PK, sk: item.sk },
          { type: 'put', pk: REVOCATION_PK, sk: revocationKey(dueAt, revocation.id), data: next },
        ]);
      }
    }
    return { revoked, failed };
  }

  /** Queued revocations (retired credentials waiting for their overlap to end, or failing), soonest first. */
  async pendingRevocations(): Promise<Omit<RevocationRecord, 'settings' | 'handle'>[]> {
    const out: Omit<RevocationRecord, 'settings' | 'handle'>[] = [];
    for await (const { data } of this.#scan<RevocationRecord>(REVOCATION_PK)) {
      const { settings: _settings, handle: _handle, ...rest } = data;
      out.push(rest);
    }
    return out;
  }

  // ---- reading -------------------------------------------------------------------------------------------------

  async rotation(rotationId: string): Promise<RotationRecord> {
    const record = await this.#rotation(rotationId);
    if (record === undefined) throw new NotFoundError(`no rotation ${rotationId}`);
    return record;
  }

  /** Rotations, newest first, optionally of one secret. */
  async history(input: { secretId?: string | undefined; limit?: number | undefined } = {}): Promise<RotationRecord[]> {
    const name =
      input.secretId === undefined ? undefined : (await this.#secrets.describe({ secretId: input.secretId })).name;
    const all: RotationRecord[] = [];
    for await (const { data } of this.#scan<RotationRecord>(ROTATION_PK)) {
      if (name === undefined || data.secrets.includes(name)) all.push(data);
    }
    all.sort((a, b) => b.startedAt - a.startedAt);
    return all.slice(0, input.limit ?? 100);
  }

  /**
   * The rotation-compliance figures: share on schedule, overdue secrets, success rate, time to rotate. With
   * `rotationsSince` (epoch ms), the rotation figures count only the rotations started then or later (the
   * compliance report's window); the schedule figures are always as of now.
   */
  async status(options: { rotationsSince?: number } = {}): Promise<ComplianceFigures> {
    const configs: RotationConfigRecord[] = [];
    for await (const { data } of this.#scan<RotationConfigRecord>(ROTATION_CONFIG_PK)) configs.push(data);
    const since = options.rotationsSince ?? Number.NEGATIVE_INFINITY;
    const rotations: RotationRecord[] = [];
    for await (const { data } of this.#scan<RotationRecord>(ROTATION_PK))
      if (data.startedAt >= since) rotations.push(data);
    return complianceFigures({
      configs: configs.map((c) => ({
        name: c.name,
        enabled: c.enabled,
        rules: c.rules,
        nextRotationAt: c.nextRotationAt,
        lastRotatedAt: c.lastRotatedAt,
        createdAt: c.createdAt,
      })),
      rotations: rotations.map((r) => ({
        rotationId: r.rotationId,
        secrets: r.secrets,
        trigger: r.trigger,
        status: r.status === 'rolling-back' ? 'running' : r.status,
        startedAt: r.startedAt,
        finishedAt: r.finishedAt,
      })),
      now: this.#clock.now(),
    });
  }

  // ---- internals -----------------------------------------------------------------------------------------------

  async #context(
    rotation: RotationRecord,
    member: string,
    config: RotationConfigRecord,
    before: MemberBefore,
    breach = rotation.trigger === 'breach',
  ): Promise<RotatorContext<unknown>> {
    const described = await this.#secrets.describe({ secretId: member });
    return {
      secretName: member,
      arn: described.arn,
      token: rotation.token,
      settings: config.settings,
      secrets: this.#readerFor(member, config.grant, rotation.rotationId),
      now: this.#clock.now(),
      current: before.current === undefined ? undefined : await this.#valueOf(member, before.current),
      previous: before.previous === undefined ? undefined : await this.#valueOf(member, before.previous),
      breach,
    };
  }

  async #configOf(
    member: string,
    enforceGrant = true,
  ): Promise<{ config: RotationConfigRecord; rotator: Rotator<unknown> }> {
    const item = await this.#store.get<RotationConfigRecord>(ROTATION_CONFIG_PK, member);
    if (item === undefined) throw new RotationStepError(`rotation of ${member} is no longer configured`);
    const rotator = this.#rotators[item.data.type] as Rotator<unknown>;
    // The rotation acts only within what its configurer was authorised for.
    for (const needed of enforceGrant ? rotator.references(item.data.settings) : []) {
      if (!granted(item.data.grant, needed)) {
        throw new RotationStepError(
          `rotation of ${member} needs ${needed.capability} on ${needed.path}, which its configuration was not ` +
            'granted: configure the rotation again as a caller who holds it',
        );
      }
    }
    return { config: item.data, rotator };
  }

  /** The context, once its value is known to name the target pinned at configuration. @throws RotationStepError */
  #onPinnedTarget<C extends RotatorContext<unknown>>(
    rotator: Rotator<unknown>,
    config: RotationConfigRecord,
    ctx: C,
  ): C {
    if (!this.#targetMatches(rotator, config, ctx.current)) {
      throw new RotationStepError(
        `the value of secret ${config.name} names another target than its rotation was configured for: configure ` +
          'rotation again (as a caller who holds its references) to rotate it there',
      );
    }
    return ctx;
  }

  #targetMatches(rotator: Rotator<unknown>, config: RotationConfigRecord, current: SecretValue | undefined): boolean {
    if (rotator.target === undefined || current === undefined) return true;
    const pinned = config.grant?.target;
    if (pinned === undefined) return false;
    let actual: Readonly<Record<string, string>>;
    try {
      actual = rotator.target(current);
    } catch {
      // A value that names no target cannot be acted on; the step's own parsing says why.
      return true;
    }
    const keys = new Set([...Object.keys(pinned), ...Object.keys(actual)]);
    return [...keys].every((key) => pinned[key] === actual[key]);
  }

  /**
   * What a rotation may read beyond its own secret: the secrets its grant gives `read` on, each read audited as the
   * rotation's, under the grant. A secret outside the grant and a missing one fail alike, so a rotation's error
   * never tells whether some other secret exists.
   */
  #readerFor(member: string, grant: RotationGrant | undefined, rotationId: string): RotationSecrets {
    return {
      egress: this.#egress,
      readCurrent: async (secretId) => {
        const refused = () =>
          new RotationStepError(`secret ${secretId} is not readable by the rotation of ${member} (not granted)`);
        // Settings name secrets by name, so the grant is checked on the id as given; only an id that is not itself
        // granted (an ARN, e.g. the member's own in a revocation handle) is resolved to its name first.
        const allowed = (name: string) =>
          name === member || granted(grant, { path: `secrets/${name}`, capability: 'read' });
        let name = secretId;
        if (!allowed(name)) {
          try {
            ({ name } = await this.#secrets.describe({ secretId }));
          } catch (error) {
            if (error instanceof NotFoundError) throw refused();
            throw error;
          }
          if (!allowed(name)) throw refused();
        }
        let value: SecretValue;
        try {
          ({ value } = await this.#secrets.get({ secretId: name }));
        } catch (error) {
          if (error instanceof NotFoundError) throw refused();
          throw error;
        }
        if (name !== member) {
          await this.#audit.response({
            requestId: `rotation-${rotationId}`,
            operation: 'rotation.read-secret',
            path: `secrets/${name}`,
            sourceIp: 'internal',
            principal: SYSTEM,
            outcome: 'ok',
            grants: [{ path: `secrets/${name}`, capability: 'read' }],
            response: {
              rotationId,
              secret: member,
              ...(grant === undefined
                ? {}
                : { grantedBy: grant.grantedBy, grantRequestId: grant.requestId, grantedAt: iso(grant.grantedAt) }),
            },
            durable: true,
          });
        }
        return value;
      },
    };
  }

  async #membersOf(config: RotationConfigRecord): Promise<string[]> {
    if (config.group === undefined) return [config.name];
    const group = await this.#store.get<RotationGroupRecord>(ROTATION_GROUP_PK, config.group);
    if (group === undefined) return [config.name];
    for (const member of group.data.members) {
      const item = await this.#store.get<RotationConfigRecord>(ROTATION_CONFIG_PK, member);
      if (item === undefined || !item.data.enabled) {
        throw new InvalidRequestError(`rotation group ${config.group}: member ${member} has no rotation configured`);
      }
    }
    return group.data.members;
  }

  async #hasVersion(member: string, versionId: string): Promise<boolean> {
    return (await this.#valueOf(member, versionId)) !== undefined;
  }

  async #valueOf(member: string, versionId: string): Promise<SecretValue | undefined> {
    try {
      return (await this.#secrets.get({ secretId: member, versionId })).value;
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  async #pending(member: string, token: string): Promise<SecretValue> {
    const value = await this.#valueOf(member, token);
    if (value === undefined) throw new RotationStepError(`secret ${member} has no pending version ${token}`);
    return value;
  }

  async #nextDue(config: RotationConfigRecord, now: number): Promise<number | undefined> {
    if (!config.enabled) return undefined;
    const candidates: number[] = [];
    // A secret never rotated counts from when rotation was configured, as Secrets Manager does without
    // RotateImmediately; a schedule missed while the node was down is in the past and runs at the next tick.
    if (config.rules !== undefined) {
      candidates.push(nextRotationAt(config.rules, config.lastRotatedAt ?? config.createdAt, now));
    }
    const rotator = this.#rotators[config.type] as Rotator<unknown>;
    if (rotator.dueAt !== undefined) {
      const current = await this.#valueOf(config.name, (await this.#currentVersion(config.name)) ?? '').catch(
        () => undefined,
      );
      const due = current === undefined ? undefined : await rotator.dueAt(config.settings, current);
      if (due !== undefined) candidates.push(due);
    }
    return candidates.length === 0 ? undefined : Math.min(...candidates);
  }

  async #currentVersion(name: string): Promise<string | undefined> {
    const described = await this.#secrets.describe({ secretId: name });
    return Object.entries(described.versionIdsToStages).find(([, labels]) => labels.includes(AWSCURRENT))?.[0];
  }

  async #refreshNextDue(name: string): Promise<void> {
    const item = await this.#store.get<RotationConfigRecord>(ROTATION_CONFIG_PK, name);
    if (item === undefined) return;
    const nextRotationAt = await this.#nextDue(item.data, this.#clock.now());
    await this.#updateConfig(name, (c) => ({ ...c, nextRotationAt }));
  }

  async #queueRevocation(revocation: RevocationRecord): Promise<void> {
    await this.#store.transact([
      { type: 'put', pk: REVOCATION_PK, sk: revocationKey(revocation.dueAt, revocation.id), data: revocation },
    ]);
  }

  async #rotation(rotationId: string): Promise<RotationRecord | undefined> {
    return (await this.#store.get<RotationRecord>(ROTATION_PK, rotationId))?.data;
  }

  async #updateRotation(rotationId: string, change: (r: RotationRecord) => RotationRecord): Promise<void> {
    const updated = await this.#update(ROTATION_PK, rotationId, change);
    if (!updated) throw new RotationStepError(`unknown rotation ${rotationId}`);
  }

  /** Marks the rotation ended and releases its locks, in one transaction. */
  async #end(rotation: RotationRecord, fields: Partial<RotationRecord>): Promise<void> {
    await retryOnConflict(
      async () => {
        const item = await this.#store.get<RotationRecord>(ROTATION_PK, rotation.rotationId);
        if (item === undefined) return;
        const locks: WriteOp[] = [];
        for (const member of rotation.secrets) {
          const lock = await this.#store.get<RotationLockRecord>(ROTATION_LOCK_PK, member);
          if (lock?.data.rotationId === rotation.rotationId) {
            locks.push({ type: 'delete', pk: ROTATION_LOCK_PK, sk: member, condition: { kind: 'rev', rev: lock.rev } });
          }
        }
        await this.#store.transact([
          {
            type: 'put',
            pk: ROTATION_PK,
            sk: rotation.rotationId,
            data: { ...item.data, ...fields },
            condition: { kind: 'rev', rev: item.rev },
          },
          ...locks,
        ]);
      },
      { maxAttempts: ROTATION_WRITE_ATTEMPTS },
    );
  }

  async #updateConfig(name: string, change: (c: RotationConfigRecord) => RotationConfigRecord): Promise<void> {
    await this.#update(ROTATION_CONFIG_PK, name, change);
  }

  /** Read-modify-write of one item under its revision, retried when a concurrent writer won. False if absent. */
  async #update<T extends Record<string, unknown>>(pk: string, sk: string, change: (data: T) => T): Promise<boolean> {
    return retryOnConflict(
      async () => {
        const item = await this.#store.get<T>(pk, sk);
        if (item === undefined) return false;
        await this.#store.transact([
          { type: 'put', pk, sk, data: change(item.data), condition: { kind: 'rev', rev: item.rev } },
        ]);
        return true;
      },
      { maxAttempts: ROTATION_WRITE_ATTEMPTS },
    );
  }

  async #record(
    operation: string,
    secrets: readonly string[],
    rotationId: string | undefined,
    outcome: 'ok' | 'error',
    response: Record<string, unknown>,
  ): Promise<void> {
    for (const secret of secrets) {
      await this.#audit.response({
        requestId: rotationId === undefined ? randomUUID() : `rotation-${rotationId}`,
        operation,
        path: `secrets/${secret}`,
        sourceIp: 'internal',
        principal: SYSTEM,
        outcome,
        response: { ...response, ...(rotationId === undefined ? {} : { rotationId }), secrets: [...secrets] },
        durable: true,
      });
    }
  }

  async *#scan<T extends Record<string, unknown>>(pk: string): AsyncGenerator<StoredItem<T>> {
    let startAfter: string | undefined;
    do {
      const page = await this.#store.query<T>(pk, { limit: PAGE, ...(startAfter === undefined ? {} : { startAfter }) });
      yield* page.items;
      startAfter = page.lastKey;
    } while (startAfter !== undefined);
  }
}

function granted(grant: RotationGrant | undefined, needed: ResourceReference): boolean {
  return grant?.references.some((r) => r.path === needed.path && r.capability === needed.capability) ?? false;
}

function executionInput(record: RotationRecord): RotationExecutionInput {
  return {
    RotationId: record.rotationId,
    ClientRequestToken: record.token,
    Secrets: record.secrets,
    Trigger: record.trigger,
    ...(record.status === 'rolling-back' ? { ResumeAt: 'rollback' as const } : {}),
  };
}

function viewOf(record: RotationConfigRecord): RotationConfigView {
  const { breachRequestedAt: _breach, ...view } = record;
  return view;
}

function parseRules(rules: RotationRules): RotationRules {
  const parsed = RotationRulesSchema.safeParse(rules);
  if (!parsed.success) {
    throw new ValidationError(`invalid rotation rules: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  return parsed.data as RotationRules;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A message fit for records and events: rotators never put secret material in theirs. */
function messageOf(error: unknown): string {
  if (error instanceof CofferError || error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 1024);
  return 'unknown error';
}

/** Step Functions puts the error message in `Cause`, as JSON (`{"errorMessage": ...}`) from Lambda or as text. */
function causeMessage(cause: string | undefined): string | undefined {
  if (cause === undefined) return undefined;
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage.slice(0, 1024);
  } catch {
    // not JSON: the text itself
  }
  return cause.slice(0, 1024);
}
