import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../../../lambdas/adapters/memory/memory-store.ts';
import type { AuthMethodFactory } from '../../../../../lambdas/core/auth/methods/auth-method.ts';
import {
  AUTH_METHOD_TYPES,
  AUTH_METHODS,
  type AuthMethodType,
  buildAuthMethods,
  isAuthMethodType,
} from '../../../../../lambdas/core/auth/methods/registry.ts';

describe('Registry: AUTH_METHODS', () => {
  it('has one factory per method type, whose type is its key', () => {
    expect(Object.keys(AUTH_METHODS).sort()).toEqual([...AUTH_METHOD_TYPES].sort());
    for (const type of AUTH_METHOD_TYPES) expect(AUTH_METHODS[type].type).toBe(type);
  });

  it('builds every method with the type it is registered under', () => {
    const methods = buildAuthMethods({ store: new MemoryStore(), clock: { now: () => 0 } });
    for (const type of AUTH_METHOD_TYPES) expect(methods[type].type).toBe(type);
  });

  it('tells registered types from other strings', () => {
    expect(isAuthMethodType('approle')).toBe(true);
    expect(isAuthMethodType('userpass')).toBe(false);
    expect(isAuthMethodType('toString')).toBe(false);
  });

  it('refuses, at compile time, a type without an entry or an entry under another key', () => {
    // biome-ignore lint/suspicious/noExplicitAny: the shape of the registry's own check
    type Registry = { readonly [K in AuthMethodType | 'other']: AuthMethodFactory<any, any, any> & { type: K } };
    // @ts-expect-error: 'other' has no entry
    const missing: Registry = { approle: AUTH_METHODS.approle };
    // @ts-expect-error: an entry's type must be its key
    const misnamed: Registry = { approle: AUTH_METHODS.approle, other: AUTH_METHODS.approle };
    expect([missing, misnamed]).toHaveLength(2);
  });
});
