import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SealedCaKeyStore } from '../../../../lambdas/adapters/local/pki-keys/sealed-ca-key-store.ts';
import { MemoryStore } from '../../../../lambdas/adapters/memory/memory-store.ts';
import { CachingKeyProvider } from '../../../../lambdas/core/crypto/data-key-cache.ts';
import type { CaKeyStore } from '../../../../lambdas/core/ports/ca-key-store.ts';
import type { Clock } from '../../../../lambdas/core/ports/clock.ts';
import { PkiService, type PkiServiceOptions } from '../../../../lambdas/engines/pki/pki-service.ts';
import { FakeKeyProvider } from '../../../support/fake-key-provider.ts';

export const DAY = 86_400;

/** A PKI service on the in-memory store, the fake key provider and local sealed CA keys. */
export function pkiFixture(
  options: { clock?: Clock; caKeys?: CaKeyStore; caching?: boolean } & Partial<PkiServiceOptions> = {},
) {
  const store = new MemoryStore();
  const fake = new FakeKeyProvider();
  const clock = options.clock ?? { now: () => Date.now() };
  // The local node wraps its keyring in the data-key cache, whose unwrapped buffers callers must not zero.
  const keyProvider = options.caching === true ? new CachingKeyProvider(fake, { clock }) : fake;
  const caKeys = options.caKeys ?? new SealedCaKeyStore({ store, keyProvider, clock });
  const pki = new PkiService({ store, keyProvider, caKeys, clock, publicUrl: 'http://127.0.0.1:8270', ...options });
  return { pki, store, keyProvider: fake, caKeys, clock };
}

/** Root (EC P-256) + intermediate signed by it + a role for example.com and its subdomains. */
export async function withChain(pki: PkiService, role: Record<string, unknown> = {}) {
  const root = await pki.generateRoot({ common_name: 'Coffer Test Root', key_type: 'ec-p256', ttl: 3650 * DAY });
  const intermediate = await pki.generateIntermediate({
    common_name: 'Coffer Test Intermediate',
    key_type: 'ec-p256',
    sign_with_root: true,
    ttl: 1825 * DAY,
  });
  await pki.putRole('web', {
    allowed_domains: ['example.com'],
    allow_subdomains: true,
    allow_bare_domains: true,
    max_ttl: '72h',
    ...role,
  });
  return { root: root.certificate, intermediate: intermediate.certificate! };
}

/** A scratch directory for files handed to openssl. */
export function scratch() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-pki-'));
  return {
    dir,
    write(name: string, content: string | Buffer): string {
      const file = path.join(dir, name);
      writeFileSync(file, content);
      return file;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Runs openssl; returns exit status and combined output (never throws on a non-zero exit). */
export function openssl(args: readonly string[], input?: string): { status: number; output: string } {
  try {
    const out = execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] });
    return { status: 0, output: out.toString('utf8') };
  } catch (err) {
    const e = err as { status?: number; stdout?: Buffer; stderr?: Buffer };
    return { status: e.status ?? 1, output: `${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}` };
  }
}
