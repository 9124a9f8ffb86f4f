import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  RotationClaimLostError,
  rotationClaim,
} from '../../../../lambdas/adapters/local/rotation-runner/local-rotation-runner.ts';
import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import {
  CLAIM_PARTITION,
  type Claims,
  StoreClaims,
  soleNodeClaims,
} from '../../../../lambdas/core/coordination/claims.ts';
import { LeaseService } from '../../../../lambdas/core/leases/lease-service.ts';
import { ROTATION_EVENTS } from '../../../../lambdas/core/rotation/rotation-workflow.ts';
import { NodeJobs } from '../../../../lambdas/entrypoints/local/node-jobs.ts';
import { FakeKeyProvider } from '../../../support/fake-key-provider.ts';
import {
  FakeTarget,
  fakeRotator,
  fakeRegistry as fakeRotators,
  keyValue,
  ROTATION_DEFINITION,
  type RotationHarness,
  rotationHarness,
  TEST_GRANT,
} from '../../../support/rotation-harness.ts';
import { waitFor } from '../../../support/wait-for.ts';
import { FakeDatabaseProvider, fakeRegistry as fakeProviders } from '../../core/leases/fake-provider.ts';

const INTERVALS = { leaseSweepMs: 1000, expirySweepMs: 60_000, purgeMs: 60_000, rotationTickMs: 10_000 };
/** How long a rotation stays its node's after the last renewal. */
const TTL = 30_000;

interface Node {
  readonly name: string;
  readonly claims: Claims;
  readonly jobs: NodeJobs;
  readonly leases: LeaseService;
  readonly h: RotationHarness;
  readonly errors: unknown[];
  readonly counts: { expiry: number; purge: number; ticks: number };
}

const running: NodeJobs[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((jobs) => jobs.stop()));
});

/**
 * N nodes over ONE store, as `openLocalNode` composes their jobs (`NodeJobs` over the node's claims, lease service,
 * rotation service and runner), each with its own claims holder. The store, key provider, clock, database target and
 * rotation target are shared, as they are in a cluster. `gate` holds node i's `setSecret` step open.
 */
function cluster(count: number, options: { coordinated?: boolean; gate?: Map<string, Promise<void>> } = {}) {
  const store = new MemoryStore();
  const keyProvider = new FakeKeyProvider();
  let time = Date.UTC(2026, 11, 7, 12, 0, 0);
  const clock = {
    now: () => time,
    advance: (ms: number) => {
      time += ms;
    },
  };
  const db = new FakeDatabaseProvider();
  db.roles.set('app', { defaultTtlSeconds: 60, maxTtlSeconds: 300 });
  const target = new FakeTarget();
  /** Steps as each node ran them: `<node>:<step>`. */
  const steps: string[] = [];
  const nodes: Node[] = Array.from({ length: count }, (_, i) => {
    const name = String.fromCharCode(65 + i);
    const claims = options.coordinated === false ? soleNodeClaims : new StoreClaims({ store, clock });
    const errors: unknown[] = [];
    const rotator = fakeRotator(target, {
      beforeStep: async (step) => {
        steps.push(`${name}:${step}`);
        if (step === 'setSecret') await options.gate?.get(name);
      },
    });
    const h = rotationHarness(fakeRotators(rotator), { store, keyProvider, clock }, ROTATION_DEFINITION, {
      claims,
      claimTtlMs: TTL,
      // Renewals happen when the test says (`runner.heartbeat()`): a real-time timer would renew at will.
      heartbeatMs: 0,
    });
    const leases = new LeaseService({ store, clock, providers: fakeProviders(db), claims });
    const counts = { expiry: 0, purge: 0, ticks: 0 };
    const jobs = new NodeJobs({
      claims,
      clock,
      leases,
      expirySweep: { sweep: async () => counts.expiry++ },
      purge: async () => ++counts.purge,
      rotation: {
        rotateDue: async () => {
          counts.ticks++;
          return h.rotation.rotateDue();
        },
        sweepRevocations: () => h.rotation.sweepRevocations(),
        interrupted: (adopt) => h.rotation.interrupted(adopt),
      },
      runner: h.runner,
      intervals: INTERVALS,
      onError: (_job, error) => errors.push(error),
    });
    running.push(jobs);
    return { name, claims, jobs, leases, h, errors, counts };
  });
  return { store, clock, db, target, steps, nodes };
}

async function secretWithRotation(h: RotationHarness, target: FakeTarget) {
  const name = `app/${randomUUID().slice(0, 8)}`;
  const value = keyValue(`initial-${name}`);
  target.keys.set(`initial-${name}`, JSON.parse((value as { string: string }).string).key);
  await h.secrets.create({ name, value });
  await h.rotation.configure({ grant: TEST_GRANT, secretId: name, type: 'api-key-coffer', settings: { overlapMs: 0 } });
  return name;
}

const never = new Promise<void>(() => undefined);

describe('Class: NodeJobs, three nodes on one store', () => {
  it('revokes a due lease exactly once when every node sweeps at the same moment', async () => {
    const { nodes, clock, db } = cluster(3);
    const { lease } = await nodes[0]!.leases.issue({ kind: 'database', role: 'app', principalId: 'alice' });
    // The target answers slowly, so the three passes overlap.
    db.onRevoke = () => new Promise((resolve) => setImmediate(resolve));
    clock.advance(61_000);
    await Promise.all(nodes.map((n) => n.jobs.leaseSweep.sweep()));
    expect(db.revokeCalls).toBe(1);
    expect(db.users.size).toBe(0);
    await expect(nodes[1]!.leases.lookup(lease.leaseId)).rejects.toThrow(/not found/);
  });

  it('revokes a lease once when one node’s API call and another node’s sweep revoke it at the same moment', async () => {
    for (const coordinated of [true, false]) {
      const { nodes, clock, db } = cluster(2, { coordinated });
      const [a, b] = nodes as [Node, Node];
      const { lease } = await a.leases.issue({ kind: 'database', role: 'app', principalId: 'alice' });
      db.onRevoke = () => new Promise((resolve) => setImmediate(resolve));
      clock.advance(61_000);
      await Promise.all([a.leases.revoke(lease.leaseId), b.jobs.leaseSweep.sweep()]);
      // Uncoordinated (the control), both nodes call the target.
      expect(db.revokeCalls).toBe(coordinated ? 1 : 2);
      expect(db.users.size).toBe(0);
      await expect(b.leases.lookup(lease.leaseId)).rejects.toThrow(/not found/);
    }
  });

  it('(control) revokes it more than once when the nodes do not coordinate', async () => {
    const { nodes, clock, db } = cluster(3, { coordinated: false });
    await nodes[0]!.leases.issue({ kind: 'database', role: 'app', principalId: 'alice' });
    db.onRevoke = () => new Promise((resolve) => setImmediate(resolve));
    clock.advance(61_000);
    await Promise.all(nodes.map((n) => n.jobs.leaseSweep.sweep()));
    expect(db.revokeCalls).toBeGreaterThan(1);
  });

  it('runs one expiry sweep, one purge and one rotation tick per interval, whichever nodes’ timers fire', async () => {
    const { nodes, clock } = cluster(3);
    const total = (key: 'expiry' | 'purge' | 'ticks') => nodes.reduce((sum, n) => sum + n.counts[key], 0);
    const tickAll = () =>
      Promise.all(nodes.flatMap((n) => [n.jobs.expirySweep.sweep(), n.jobs.purge.sweep(), n.jobs.rotationTick()]));
    await tickAll();
    expect([total('expiry'), total('purge'), total('ticks')]).toEqual([1, 1, 1]);
    // Every node's timers fire again within the intervals: nothing more runs.
    clock.advance(INTERVALS.rotationTickMs - 1);
    await tickAll();
    expect([total('expiry'), total('purge'), total('ticks')]).toEqual([1, 1, 1]);
    clock.advance(1);
    await tickAll();
    expect([total('expiry'), total('purge'), total('ticks')]).toEqual([1, 1, 2]);
    clock.advance(INTERVALS.expirySweepMs);
    await tickAll();
    expect([total('expiry'), total('purge'), total('ticks')]).toEqual([2, 2, 3]);
  });

  it('does not take over a rotation its node still runs, however long it runs', async () => {
    const gate = new Map([['A', never]]);
    const { nodes, clock, steps, target } = cluster(3, { gate });
    const [a, b, c] = nodes as [Node, Node, Node];
    const name = await secretWithRotation(a.h, target);
    const started = await a.h.rotation.rotate({ secretId: name, trigger: 'on-demand' });
    await waitFor('node A to reach setSecret', () => steps.includes('A:setSecret'));
    expect(await b.jobs.adoptInterrupted()).toBe(0);
    for (let i = 0; i < 4; i++) {
      clock.advance(TTL - 1);
      await a.h.runner.heartbeat();
      expect(await b.jobs.adoptInterrupted()).toBe(0);
      expect(await c.jobs.adoptInterrupted()).toBe(0);
    }
    expect(b.h.runner.running).toEqual([]);
    expect(c.h.runner.running).toEqual([]);
    expect(a.h.runner.running).toEqual([started.rotationId]);
    // Nobody reported it interrupted: it is not.
    for (const n of nodes)
      expect(n.h.events.events.map((e) => e.detailType)).not.toContain(ROTATION_EVENTS.interrupted);
  });

  it('lets one node take over a rotation whose node died, and finishes it exactly once', async () => {
    const gate = new Map([['A', never]]);
    const { nodes, clock, steps, target, store } = cluster(3, { gate });
    const [a, b, c] = nodes as [Node, Node, Node];
    const name = await secretWithRotation(a.h, target);
    const started = await a.h.rotation.rotate({ secretId: name, trigger: 'on-demand' });
    await waitFor('node A to reach setSecret', () => steps.includes('A:setSecret'));
    // A dies: it stops renewing and never releases its claim. Until the claim expires, nobody takes over.
    clock.advance(TTL - 1);
    expect(await b.jobs.adoptInterrupted()).toBe(0);
    clock.advance(1);
    const adopted = await Promise.all([b.jobs.adoptInterrupted(), c.jobs.adoptInterrupted()]);
    expect([...adopted].sort()).toEqual([0, 1]);
    const taker = adopted[0] === 1 ? b : c;
    await taker.h.runner.idle();
    expect((await taker.h.rotation.rotation(started.rotationId)).status).toBe('succeeded');
    const succeeded = nodes.flatMap((n) => n.h.sink.records()).filter((r) => r.operation === 'rotation.succeeded');
    expect(succeeded).toHaveLength(1);
    expect(steps.filter((s) => s.endsWith(':testSecret'))).toEqual([`${taker.name}:testSecret`]);
    // The taker reported the interruption; the other node did not.
    const interrupted = nodes.map((n) => n.h.events.events.filter((e) => e.detailType === ROTATION_EVENTS.interrupted));
    expect(interrupted.map((e) => e.length)).toEqual(nodes.map((n) => (n === taker ? 1 : 0)));
    // Done: released, and nobody resumes it again.
    expect(await store.get(CLAIM_PARTITION, rotationClaim(started.rotationId))).toBeUndefined();
    clock.advance(TTL);
    expect(await b.jobs.adoptInterrupted()).toBe(0);
    expect(await c.jobs.adoptInterrupted()).toBe(0);
  });

  it('stops a node paused past its claim before its next step once another node took the rotation over', async () => {
    let resumeA: () => void = () => undefined;
    const gate = new Map([['A', new Promise<void>((resolve) => (resumeA = resolve))]]);
    const { nodes, clock, steps, target } = cluster(2, { gate });
    const [a, b] = nodes as [Node, Node];
    const name = await secretWithRotation(a.h, target);
    const started = await a.h.rotation.rotate({ secretId: name, trigger: 'on-demand' });
    await waitFor('node A to reach setSecret', () => steps.includes('A:setSecret'));
    clock.advance(TTL);
    expect(await b.jobs.adoptInterrupted()).toBe(1);
    await b.h.runner.idle();
    const current = (await b.h.secrets.describe({ secretId: name })).versionIdsToStages;
    // A wakes up (a long GC pause, a frozen VM): its step in progress ends, and it runs no other.
    resumeA();
    await a.h.runner.idle();
    expect(steps.filter((s) => s.startsWith('A:'))).toEqual(['A:createSecret', 'A:setSecret']);
    expect(a.errors).toEqual([]);
    expect((await a.h.rotation.rotation(started.rotationId)).status).toBe('succeeded');
    expect((await b.h.secrets.describe({ secretId: name })).versionIdsToStages).toEqual(current);
    expect(a.h.events.events.map((e) => e.detailType)).not.toContain(ROTATION_EVENTS.failed);
    expect(a.h.sink.records().map((r) => r.operation)).not.toContain('rotation.failed');
  });

  it('starts a rotation launched on two nodes (a retried request) on one of them only', async () => {
    const { nodes, target, steps } = cluster(2);
    const [a, b] = nodes as [Node, Node];
    const name = await secretWithRotation(a.h, target);
    const token = randomUUID();
    const started = await a.h.rotation.rotate({ secretId: name, trigger: 'on-demand', clientRequestToken: token });
    // The same request retried against node B while A runs it: B launches the same execution name.
    await b.h.rotation.rotate({ secretId: name, trigger: 'on-demand', clientRequestToken: token });
    await Promise.all([a.h.runner.idle(), b.h.runner.idle()]);
    expect((await a.h.rotation.rotation(started.rotationId)).status).toBe('succeeded');
    expect(steps.filter((s) => s.endsWith(':createSecret'))).toHaveLength(1);
  });
});

describe('RotationClaimLostError', () => {
  it('is named, so the node log says why an execution stopped', () => {
    expect(new RotationClaimLostError('x').name).toBe('RotationClaimLostError');
  });
});
