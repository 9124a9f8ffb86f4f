import { ValidationError } from '../errors.ts';
import {
  ROTATION_STEPS,
  type RotationStep,
  RotationStepError,
  type Rotator,
  type RotatorRegistry,
  TransientRotationError,
} from './rotation-types.ts';

/**
 * Fault injection for chaos drills and the fault-injection tests: makes one step of one rotation type fail, fail
 * transiently, or stall, so an operator can prove on a real node that a failed rotation leaves every credential
 * working, leaves no AWSPENDING behind, and tells someone. Off unless configured (`COFFER_ROTATION_FAULT`).
 *
 * Spec: `<type|*>:<step>:<fail|transient|stall>[:<times>]`, comma-separated, e.g. `postgres-single:testSecret:fail`.
 * `times` (default unlimited) counts the injections; `stall` waits until the process dies.
 */
export interface RotationFault {
  readonly type: string;
  readonly step: RotationStep;
  readonly mode: 'fail' | 'transient' | 'stall';
  remaining: number;
}

export function parseRotationFaults(spec: string | undefined): RotationFault[] {
  if (spec === undefined || spec.trim() === '') return [];
  return spec.split(',').map((part) => {
    const [type, step, mode, times] = part.trim().split(':');
    if (type === undefined || step === undefined || mode === undefined) {
      throw new ValidationError(`COFFER_ROTATION_FAULT: "${part}" is not <type|*>:<step>:<fail|transient|stall>[:n]`);
    }
    if (!(ROTATION_STEPS as readonly string[]).includes(step)) {
      throw new ValidationError(`COFFER_ROTATION_FAULT: unknown step "${step}"`);
    }
    if (mode !== 'fail' && mode !== 'transient' && mode !== 'stall') {
      throw new ValidationError(`COFFER_ROTATION_FAULT: unknown mode "${mode}"`);
    }
    const remaining = times === undefined ? Number.POSITIVE_INFINITY : Number(times);
    if (!Number.isInteger(remaining) && remaining !== Number.POSITIVE_INFINITY) {
      throw new ValidationError(`COFFER_ROTATION_FAULT: "${times}" is not a count`);
    }
    return { type, step: step as RotationStep, mode, remaining };
  });
}

const METHOD: Record<RotationStep, 'createValue' | 'setSecret' | 'testSecret' | undefined> = {
  createSecret: 'createValue',
  setSecret: 'setSecret',
  testSecret: 'testSecret',
  finishSecret: undefined,
};

/** Wraps every rotator of the registry so the faults fire at their step. */
export function withRotationFaults(registry: RotatorRegistry, faults: RotationFault[]): RotatorRegistry {
  if (faults.length === 0) return registry;
  const wrapped: Record<string, Rotator<unknown>> = {};
  for (const [type, rotator] of Object.entries(registry) as [string, Rotator<unknown>][]) {
    const fire = async (step: RotationStep): Promise<void> => {
      const fault = faults.find((f) => (f.type === '*' || f.type === type) && f.step === step && f.remaining > 0);
      if (fault === undefined) return;
      fault.remaining--;
      if (fault.mode === 'stall') await new Promise(() => {});
      if (fault.mode === 'transient') throw new TransientRotationError(`injected transient fault at ${step}`);
      throw new RotationStepError(`injected fault at ${step}`);
    };
    const copy: Rotator<unknown> = Object.create(rotator) as Rotator<unknown>;
    for (const step of ROTATION_STEPS) {
      const method = METHOD[step];
      if (method === undefined) continue;
      const original = rotator[method].bind(rotator) as (...args: unknown[]) => Promise<unknown>;
      Object.defineProperty(copy, method, {
        value: async (...args: unknown[]) => {
          // createSecret fails before anything is created (nothing would record it); set/test after their work,
          // the harder case for a rollback.
          if (step === 'createSecret') await fire(step);
          const result = await original(...args);
          if (step !== 'createSecret') await fire(step);
          return result;
        },
      });
    }
    // finishSecret has no rotator method: the service calls `retire` there.
    const retire = rotator.retire.bind(rotator);
    Object.defineProperty(copy, 'retire', {
      value: (...args: Parameters<typeof retire>) => {
        const fault = faults.find(
          (f) => (f.type === '*' || f.type === type) && f.step === 'finishSecret' && f.remaining > 0,
        );
        if (fault !== undefined) {
          fault.remaining--;
          throw new RotationStepError('injected fault at finishSecret');
        }
        return retire(...args);
      },
    });
    wrapped[type] = copy;
  }
  return wrapped as unknown as RotatorRegistry;
}
