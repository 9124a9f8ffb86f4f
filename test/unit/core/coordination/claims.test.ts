import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import { ClaimedPass } from '../../../../lambdas/core/coordination/claimed-pass.ts';
import { CLAIM_PARTITION, StoreClaims, soleNodeClaims } from '../../../../lambdas/core/coordination/claims.ts';
import type { Store } from '../../../../lambdas/core/ports/store.ts';
import { FakeClock } from '../secrets/fixtures.ts';

const TTL = 30_000;

function nodes(count: number) {
  const store = new MemoryStore();
  const clock = new FakeClock();
  const claims = Array.from({ length: count }, () => new StoreClaims({ store, clock }));
  return { store, clock, claims };
}

describe('Class: StoreClaims', () => {
  it('gives each process its own random holder id', () => {
    const { claims } = nodes(2);
    expect(claims[0]!.holder).toMatch(/^[0-9a-f]{32}$/);
    expect(claims[0]!.holder).not.toBe(claims[1]!.holder);
  });

  it('never lets two holders hold one claim, however many race for it', async () => {
    const { claims } = nodes(5);
    const won = await Promise.all(claims.map((c) => c.claim('job', TTL)));
    expect(won.filter(Boolean)).toHaveLength(1);
    const winner = claims[won.indexOf(true)]!;
    for (const other of claims.filter((c) => c !== winner)) {
      expect(await other.claim('job', TTL)).toBe(false);
      expect(await other.heldByOther('job')).toBe(true);
    }
    expect(await winner.heldByOther('job')).toBe(false);
  });

  it('lets the holder claim again (renewing it) while it holds the claim', async () => {
    const { claims, clock, store } = nodes(1);
    const [a] = claims as [StoreClaims];
    expect(await a.claim('job', TTL)).toBe(true);
    clock.advance(TTL - 1);
    expect(await a.claim('job', TTL)).toBe(true);
    expect((await store.get(CLAIM_PARTITION, 'job'))?.data).toMatchObject({ expiresAt: clock.now() + TTL });
  });

  it('lets another holder take over an expired claim, and not a moment before', async () => {
    const { claims, clock } = nodes(2);
    const [a, b] = claims as [StoreClaims, StoreClaims];
    await a.claim('job', TTL);
    clock.advance(TTL - 1);
    expect(await b.claim('job', TTL)).toBe(false);
    clock.advance(1);
    expect(await b.heldByOther('job')).toBe(false);
    expect(await b.claim('job', TTL)).toBe(true);
    expect(await a.heldByOther('job')).toBe(true);
  });

  it('refuses a renewal by a non-holder, and by a holder whose claim was taken over', async () => {
    const { claims, clock } = nodes(2);
    const [a, b] = claims as [StoreClaims, StoreClaims];
    expect(await b.renew('job', TTL)).toBe(false);
    await a.claim('job', TTL);
    expect(await b.renew('job', TTL)).toBe(false);
    clock.advance(TTL);
    await b.claim('job', TTL);
    // A was paused past its TTL: it must learn that B runs the job now.
    expect(await a.renew('job', TTL)).toBe(false);
    expect(await b.renew('job', TTL)).toBe(true);
  });

  it('renews an expired claim nobody took: nobody else ran the job meanwhile', async () => {
    const { claims, clock } = nodes(1);
    const [a] = claims as [StoreClaims];
    await a.claim('job', TTL);
    clock.advance(TTL * 2);
    expect(await a.renew('job', TTL)).toBe(true);
  });

  it('releases only its own claim, so another holder may claim at once', async () => {
    const { claims, store } = nodes(2);
    const [a, b] = claims as [StoreClaims, StoreClaims];
    await a.claim('job', TTL);
    await b.release('job');
    expect(await store.get(CLAIM_PARTITION, 'job')).toBeDefined();
    await a.release('job');
    expect(await store.get(CLAIM_PARTITION, 'job')).toBeUndefined();
    expect(await b.claim('job', TTL)).toBe(true);
  });

  it('keeps a release from deleting a claim taken over between its read and its delete', async () => {
    const { store, clock } = nodes(0);
    const a = new StoreClaims({ store, clock, holder: 'a' });
    const b = new StoreClaims({ store, clock, holder: 'b' });
    await a.claim('job', TTL);
    clock.advance(TTL);
    // B takes over as A reads the claim it is about to delete.
    const racing: Store = {
      get: async (pk, sk) => {
        const item = await store.get(pk, sk);
        await b.claim('job', TTL);
        return item as never;
      },
      query: (pk, o) => store.query(pk, o),
      transact: (ops) => store.transact(ops),
      close: () => store.close(),
    };
    await new StoreClaims({ store: racing, clock, holder: 'a' }).release('job');
    expect((await store.get(CLAIM_PARTITION, 'job'))?.data).toMatchObject({ holder: 'b' });
  });
});

describe('soleNodeClaims', () => {
  it('grants every claim with no store at all (a node that is its store’s only writer)', async () => {
    expect(await soleNodeClaims.claim('job', TTL)).toBe(true);
    expect(await soleNodeClaims.renew('job', TTL)).toBe(true);
    expect(await soleNodeClaims.heldByOther('job')).toBe(false);
  });
});

describe('Class: ClaimedPass', () => {
  it('runs one pass per interval across nodes, the holder again next interval, another once the holder is gone', async () => {
    const { claims, clock } = nodes(3);
    const ran: string[] = [];
    const passes = claims.map(
      (c) => new ClaimedPass(c, 'sweep/x', { clock, intervalMs: 60_000, run: async () => ran.push(c.holder) }),
    );
    await Promise.all(passes.map((p) => p.sweep()));
    expect(ran).toHaveLength(1);
    // Every node's timer fires again within the interval, the holder's too: nothing runs.
    clock.advance(30_000);
    await Promise.all(passes.map((p) => p.sweep()));
    expect(ran).toHaveLength(1);
    clock.advance(30_000);
    await Promise.all(passes.map((p) => p.sweep()));
    expect(ran).toHaveLength(2);
    expect(ran[1]).toBe(ran[0]);
    // The holder's node dies: after one interval, one of the others takes the job.
    const alive = passes.filter((_, i) => claims[i]!.holder !== ran[1]);
    clock.advance(60_000);
    await Promise.all(alive.map((p) => p.sweep()));
    expect(ran).toHaveLength(3);
    expect(ran[2]).not.toBe(ran[1]);
  });

  it('runs a pass at once after the node’s clock was set back before its last one', async () => {
    const { claims, clock } = nodes(1);
    const ran: number[] = [];
    const pass = new ClaimedPass(claims[0]!, 'sweep/z', { clock, intervalMs: 60_000, run: async () => ran.push(1) });
    await pass.sweep();
    clock.advance(-3_600_000);
    await pass.sweep();
    expect(ran).toHaveLength(2);
  });

  it('runs every pass asked for on the store’s only node (no claim, no interval check)', async () => {
    const clock = new FakeClock();
    const ran: number[] = [];
    const pass = new ClaimedPass(soleNodeClaims, 'sweep/z', {
      clock,
      intervalMs: 60_000,
      run: async () => ran.push(1),
    });
    await pass.sweep();
    await pass.sweep();
    expect(ran).toHaveLength(2);
  });

  it('returns the job’s outcome to the node that ran it and undefined to the others', async () => {
    const { claims, clock } = nodes(2);
    const [a, b] = claims.map(
      (c) => new ClaimedPass(c, 'sweep/y', { clock, intervalMs: 1000, run: async () => 'done' }),
    );
    expect(await a!.sweep()).toBe('done');
    expect(await b!.sweep()).toBeUndefined();
  });
});
