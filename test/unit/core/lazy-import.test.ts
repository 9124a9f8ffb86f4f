import { describe, expect, it, vi } from 'vitest';
import { lazyImport } from '../../../lambdas/core/lazy-import.ts';

describe('Function: lazyImport', () => {
  it('loads nothing until called, then once, and every caller shares the module', async () => {
    const module = { answer: 42 };
    const load = vi.fn(async () => module);
    const get = lazyImport(load);
    expect(load).not.toHaveBeenCalled();
    const [a, b] = await Promise.all([get(), get()]);
    expect(await get()).toBe(module);
    expect(a).toBe(module);
    expect(b).toBe(module);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('does not keep a failed load: the next call tries again', async () => {
    const load = vi
      .fn<() => Promise<{ ok: boolean }>>()
      .mockRejectedValueOnce(new Error('chunk missing'))
      .mockResolvedValueOnce({ ok: true });
    const get = lazyImport(load);
    await expect(get()).rejects.toThrow('chunk missing');
    expect(await get()).toEqual({ ok: true });
    expect(load).toHaveBeenCalledTimes(2);
  });
});
