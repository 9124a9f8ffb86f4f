import { createPrivateKey, X509Certificate as NodeX509, webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DnsEgressGuard } from '../../../lambdas/adapters/egress/dns-egress-guard.ts';
import { EgressPolicy } from '../../../lambdas/core/egress/egress-policy.ts';
import { ValidationError } from '../../../lambdas/core/errors.ts';
import { RotationStepError, type RotatorContext } from '../../../lambdas/core/rotation/rotation-types.ts';
import type { SecretValue } from '../../../lambdas/core/secrets/secret-types.ts';
import { type CertRecord, normaliseSerial, PK_CERT } from '../../../lambdas/engines/pki/pki-records.ts';
import type { PkiService } from '../../../lambdas/engines/pki/pki-service.ts';
import { X509CertificateGenerator, X509Crl } from '../../../lambdas/engines/pki/x509.ts';
import {
  type CertificateSettings,
  type CertificateValue,
  certificateRotator,
} from '../../../lambdas/engines/rotation/certificate/index.ts';
import { DAY, pkiFixture, withChain } from '../../unit/engines/pki/fixtures.ts';

const noEgress = new DnsEgressGuard(EgressPolicy.none());

const HOUR_MS = 3_600_000;
const SETTINGS = { role: 'web', commonName: 'api.example.com', altNames: ['www.example.com'], ttl: '24h' };

/** A clock the test moves by hand; the PKI engine and the step contexts read the same one. */
function manualClock() {
  let now = Date.parse('2026-06-01T00:00:00Z');
  return {
    now: () => now,
    advance(ms: number): void {
      now += ms;
    },
  };
}

/** A root + intermediate PKI engine with role `web` (example.com and its subdomains), and a rotator on it. */
async function setup(role: Record<string, unknown> = {}) {
  const clock = manualClock();
  const { pki, store } = pkiFixture({ clock });
  const { root, intermediate } = await withChain(pki, role);
  // Leaves start an hour after their CAs, so "not yet valid" is the leaf's own window, not its issuer's.
  clock.advance(HOUR_MS);
  const rotator = certificateRotator({ pki, clock });
  const context = (
    settingsInput: Record<string, unknown> = SETTINGS,
    extra: Partial<RotatorContext<CertificateSettings>> = {},
  ): RotatorContext<CertificateSettings> => ({
    secretName: 'tls/api',
    arn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:tls/api-AbCdEf',
    token: crypto.randomUUID(),
    settings: rotator.parseSettings(settingsInput),
    secrets: {
      readCurrent: () => Promise.reject(new Error('the certificate rotator reads no other secret')),
      egress: noEgress,
    },
    now: clock.now(),
    current: undefined,
    previous: undefined,
    breach: false,
    ...extra,
  });
  return { pki, store, clock, rotator, context, root, intermediate };
}

function read(value: SecretValue): CertificateValue {
  if (value.kind !== 'string') throw new Error('expected a SecretString');
  return JSON.parse(value.string) as CertificateValue;
}

function withFields(value: SecretValue, fields: Partial<CertificateValue>): SecretValue {
  return { kind: 'string', string: JSON.stringify({ ...read(value), ...fields }) };
}

/** The base64 body lines of a PEM private key: none of them may appear in an error message. */
function keyLines(value: SecretValue): string[] {
  return read(value)
    .privateKey.split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('-----'));
}

/** Awaits a rejection, checks it leaks no key material of `values`, and returns it. */
async function failure(promise: Promise<unknown>, ...values: SecretValue[]): Promise<Error> {
  const err = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error,
  );
  expect(err).toBeInstanceOf(Error);
  const text = `${err.message} ${String((err as { cause?: unknown }).cause ?? '')}`;
  expect(text).not.toContain('PRIVATE KEY');
  for (const value of values) for (const line of keyLines(value)) expect(text).not.toContain(line);
  return err;
}

async function crlSerials(pki: PkiService): Promise<string[]> {
  const crl = new X509Crl((await pki.crl()).crl);
  return crl.entries.map((entry) => entry.serialNumber.toLowerCase());
}

describe('certificateRotator: createValue', () => {
  it('issues a certificate with a new key pair each time, and the full chain', async () => {
    const { rotator, context, root, intermediate, clock } = await setup();
    const first = await rotator.createValue(context());
    const second = await rotator.createValue(context());
    const a = read(first);
    const b = read(second);

    expect(a.chain).toEqual([intermediate, root]);
    expect(a.fullChain).toBe(`${a.certificate}${intermediate}${root}`);
    const cert = new NodeX509(a.certificate);
    expect(cert.checkPrivateKey(createPrivateKey(a.privateKey))).toBe(true);
    expect(cert.subject).toBe('CN=api.example.com');
    expect(cert.subjectAltName).toBe('DNS:api.example.com, DNS:www.example.com');
    expect(a.serialNumber).toBe(cert.serialNumber.toLowerCase());
    expect(a.notBefore).toBe(new Date(cert.validFrom).toISOString());
    expect(a.notAfter).toBe(new Date(clock.now() + 24 * HOUR_MS).toISOString());

    expect(b.serialNumber).not.toBe(a.serialNumber);
    expect(new NodeX509(b.certificate).publicKey.equals(cert.publicKey)).toBe(false);
    expect(b.privateKey).not.toBe(a.privateKey);
  });

  it('records the secret it issues for, which the certificate expiry events name', async () => {
    const { rotator, context, store } = await setup();
    const value = read(await rotator.createValue(context()));
    const cert = await store.get<CertRecord>(PK_CERT, normaliseSerial(value.serialNumber));
    expect(cert?.data.secretName).toBe('tls/api');
  });

  it('uses the role ttl when ttl is not set', async () => {
    const { rotator, context, clock } = await setup({ ttl: '36h' });
    const value = read(await rotator.createValue(context({ role: 'web', commonName: 'api.example.com' })));
    expect(value.notAfter).toBe(new Date(clock.now() + 36 * HOUR_MS).toISOString());
  });

  it.each([
    ['ec-p384', 'ec', 'secp384r1'],
    ['ed25519', 'ed25519', undefined],
    ['rsa-2048', 'rsa', undefined],
  ] as const)('generates a %s key and has the role sign it', async (keyType, family, curve) => {
    const { rotator, context } = await setup({ key_type: 'any' });
    const ctx = context({ ...SETTINGS, keyType });
    const pending = await rotator.createValue(ctx);
    const value = read(pending);
    const key = createPrivateKey(value.privateKey);
    expect(key.asymmetricKeyType).toBe(family);
    if (curve !== undefined) expect(key.asymmetricKeyDetails?.namedCurve).toBe(curve);
    if (family === 'rsa') expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const cert = new NodeX509(value.certificate);
    expect(cert.checkPrivateKey(key)).toBe(true);
    expect(cert.subjectAltName).toBe('DNS:api.example.com, DNS:www.example.com');
    await expect(rotator.testSecret(ctx, pending)).resolves.toBeUndefined();
  });

  it('fails naming the role when the role refuses a name or the key type', async () => {
    const { rotator, context } = await setup();
    const outside = await failure(rotator.createValue(context({ ...SETTINGS, altNames: ['mail.evil.org'] })));
    expect(outside).toBeInstanceOf(RotationStepError);
    expect(outside.message).toMatch(/PKI role "web" refused .*name "mail\.evil\.org" is not allowed/);
    const keyType = await failure(rotator.createValue(context({ ...SETTINGS, keyType: 'rsa-2048' })));
    expect(keyType.message).toMatch(/keyType.*the role's key_type is ec-p256/);
  });

  it('refuses, and revokes, a certificate that would already be past its renew point', async () => {
    const { rotator, context, pki } = await setup();
    const err = await failure(rotator.createValue(context({ ...SETTINGS, ttl: 30, renewAtFraction: 0.2 })));
    expect(err.message).toBe(
      'createSecret: the new certificate is already past its renew point: raise ttl or renewAtFraction',
    );
    const issued = await pki.listCertificates();
    expect(issued).toHaveLength(1);
    expect(issued[0]!.status).toBe('revoked');
  });
});

describe('certificateRotator: testSecret', () => {
  it('accepts a freshly issued value (after a no-op setSecret)', async () => {
    const { rotator, context } = await setup();
    const ctx = context();
    const pending = await rotator.createValue(ctx);
    await rotator.setSecret(ctx, pending);
    await expect(rotator.testSecret(ctx, pending)).resolves.toBeUndefined();
    // Repeated, as a retried step is.
    await expect(rotator.testSecret(ctx, pending)).resolves.toBeUndefined();
  });

  it('rejects the key of another certificate as a key mismatch, without quoting either key', async () => {
    const { rotator, context } = await setup();
    const ctx = context();
    const pending = await rotator.createValue(ctx);
    const other = await rotator.createValue(ctx);
    const tampered = withFields(pending, { privateKey: read(other).privateKey });
    const err = await failure(rotator.testSecret(ctx, tampered), pending, other);
    expect(err).toBeInstanceOf(RotationStepError);
    expect(err.message).toMatch(/^key mismatch: /);
    const garbage = withFields(pending, {
      privateKey: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
    });
    expect((await failure(rotator.testSecret(ctx, garbage))).message).toBe(
      'key mismatch: privateKey is not a PEM private key',
    );
  });

  it('rejects a certificate from a foreign CA, even with its own chain, as a chain failure', async () => {
    const { rotator, context } = await setup();
    const foreign = await setup();
    const ctx = context();
    const pending = await rotator.createValue(ctx);
    const stranger = await foreign.rotator.createValue(foreign.context());
    // The foreign value is self-consistent (its own chain, its own key): only the trust anchor tells it apart.
    const err = await failure(rotator.testSecret(ctx, stranger), stranger);
    expect(err.message).toBe("chain: it does not end at the PKI engine's CA certificate (foreign or stale CA)");
    // Our certificate presented with the foreign chain.
    const s = read(stranger);
    const mixed = withFields(pending, { chain: s.chain, fullChain: `${read(pending).certificate}${s.chain.join('')}` });
    expect((await failure(rotator.testSecret(ctx, mixed), pending)).message).toMatch(
      /^chain: the signature of certificate does not verify with chain\[0\]/,
    );
  });

  it('rejects a chain that stops short of the CA, or whose links are swapped', async () => {
    const { rotator, context } = await setup();
    const ctx = context();
    const pending = await rotator.createValue(ctx);
    const v = read(pending);
    const short = withFields(pending, { chain: [v.chain[0]!], fullChain: `${v.certificate}${v.chain[0]}` });
    expect((await failure(rotator.testSecret(ctx, short), pending)).message).toMatch(/^chain: it does not end/);
    const swapped = [v.chain[1]!, v.chain[0]!];
    const reordered = withFields(pending, { chain: swapped, fullChain: `${v.certificate}${swapped.join('')}` });
    expect((await failure(rotator.testSecret(ctx, reordered), pending)).message).toMatch(
      /^chain: certificate is not issued by chain\[0\]/,
    );
  });

  it('rejects an issuer that is not a CA, and a CA that is no longer valid', async () => {
    const { rotator, context } = await setup();
    const ctx = context();
    const pending = await rotator.createValue(ctx);
    const v = read(pending);
    // Same subject as the real intermediate, but no basicConstraints CA.
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const impostor = await X509CertificateGenerator.createSelfSigned({
      name: 'CN=Coffer Test Intermediate',
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      notBefore: new Date(ctx.now - HOUR_MS),
      notAfter: new Date(ctx.now + DAY * 1000),
    });
    const chain = [impostor.toString('pem'), v.chain[1]!];
    const fake = withFields(pending, { chain, fullChain: `${v.certificate}${chain.join('')}` });
    expect((await failure(rotator.testSecret(ctx, fake), pending)).message).toBe(
      'chain: chain[0] is not a CA certificate (basicConstraints)',
    );
    const intermediateEnd = new NodeX509(v.chain[0]!).validTo;
    const late = rotator.testSecret({ ...ctx, now: Date.parse(intermediateEnd) }, pending);
    expect((await failure(late, pending)).message).toMatch(/^chain: chain\[0\] is not valid at /);
  });

  it('rejects an expired certificate, one past its renew point and one not yet valid, as validity failures', async () => {
    const { rotator, context } = await setup();
    const ctx = context();
    const pending = await rotator.createValue(ctx);
    const v = read(pending);
    const notBefore = Date.parse(v.notBefore);
    const notAfter = Date.parse(v.notAfter);
    const renewAt = Math.floor(notBefore + (2 / 3) * (notAfter - notBefore));

    const at = (now: number) => rotator.testSecret({ ...ctx, now }, pending);
    expect((await failure(at(notAfter), pending)).message).toBe(`validity: the certificate expired at ${v.notAfter}`);
    expect((await failure(at(renewAt), pending)).message).toMatch(
      /^validity: the certificate is already past its renew point .* \(renewAtFraction 0\.666/,
    );
    await expect(at(renewAt - 1)).resolves.toBeUndefined();
    expect((await failure(at(notBefore - 1), pending)).message).toBe(
      `validity: the certificate is not valid before ${v.notBefore}`,
    );
    // A later renew point moves the boundary.
    const late = context({ ...SETTINGS, renewAtFraction: 0.9 });
    await expect(rotator.testSecret({ ...late, now: renewAt }, pending)).resolves.toBeUndefined();
  });

  it('rejects a value whose fields disagree with the certificate, naming the field', async () => {
    const { rotator, context } = await setup();
    const ctx = context();
    const pending = await rotator.createValue(ctx);
    const v = read(pending);
    expect(
      (await failure(rotator.testSecret(ctx, withFields(pending, { serialNumber: '0abc' })), pending)).message,
    ).toBe('pending value: field serialNumber does not match the certificate');
    expect(
      (await failure(rotator.testSecret(ctx, withFields(pending, { fullChain: v.certificate })), pending)).message,
    ).toBe('pending value: field fullChain is not the certificate followed by chain');
    expect((await failure(rotator.testSecret(ctx, withFields(pending, { chain: [] })), pending)).message).toBe(
      'pending value: field chain must be a non-empty array of PEM certificates',
    );
    expect((await failure(rotator.testSecret(ctx, { kind: 'string', string: 'not json' }))).message).toBe(
      'pending value: not a certificate value (not JSON)',
    );
  });
});

describe('certificateRotator: dueAt', () => {
  it('falls due at two-thirds of the lifetime by default, and at renewAtFraction when set', async () => {
    const { rotator, context } = await setup();
    const current = await rotator.createValue(context());
    const v = read(current);
    const notBefore = Date.parse(v.notBefore);
    const lifetime = Date.parse(v.notAfter) - notBefore;
    expect(await rotator.dueAt(rotator.parseSettings(SETTINGS), current)).toBe(
      Math.floor(notBefore + (2 / 3) * lifetime),
    );
    expect(await rotator.dueAt(rotator.parseSettings({ ...SETTINGS, renewAtFraction: 0.5 }), current)).toBe(
      notBefore + lifetime / 2,
    );
  });

  it('leaves a value without a certificate to the rotation rules', async () => {
    const { rotator } = await setup();
    expect(
      await rotator.dueAt(rotator.parseSettings(SETTINGS), { kind: 'string', string: 'placeholder' }),
    ).toBeUndefined();
    expect(await rotator.dueAt(rotator.parseSettings(SETTINGS), { kind: 'string', string: '{}' })).toBeUndefined();
  });
});

describe('certificateRotator: retire, revoke, rollback', () => {
  it('retires the previous certificate not by time; a breach revoke puts it on the CRL and spares the current', async () => {
    const { rotator, context, pki } = await setup();
    const previous = await rotator.createValue(context());
    const current = await rotator.createValue(context({ ...SETTINGS }, { current: previous }));
    const ctx = context(SETTINGS, { current, previous, breach: true });
    const retired = await rotator.retire(ctx, previous);
    expect(retired).toEqual({ handle: { serial: read(previous).serialNumber }, afterMs: undefined });
    // Nothing is revoked by retiring.
    expect((await pki.certificate(read(previous).serialNumber)).status).toBe('valid');

    await rotator.revoke(ctx.settings, retired!.handle, ctx.secrets);
    expect((await pki.certificate(read(previous).serialNumber)).status).toBe('revoked');
    expect(await crlSerials(pki)).toEqual([read(previous).serialNumber]);
    expect((await pki.certificate(read(current).serialNumber)).status).toBe('valid');
    await expect(rotator.testSecret(ctx, current)).resolves.toBeUndefined();
  });

  it('retires nothing for a placeholder or for the certificate that is current', async () => {
    const { rotator, context } = await setup();
    const current = await rotator.createValue(context());
    const ctx = context(SETTINGS, { current });
    expect(await rotator.retire(ctx, { kind: 'string', string: 'placeholder' })).toBeUndefined();
    expect(await rotator.retire(ctx, current)).toBeUndefined();
  });

  it('revokes idempotently: twice, and a serial the engine does not know', async () => {
    const { rotator, context, pki } = await setup();
    const ctx = context();
    const value = await rotator.createValue(ctx);
    const handle = { serial: read(value).serialNumber };
    await rotator.revoke(ctx.settings, handle, ctx.secrets);
    await rotator.revoke(ctx.settings, handle, ctx.secrets);
    expect(await crlSerials(pki)).toEqual([handle.serial]);
    await expect(rotator.revoke(ctx.settings, { serial: '7f'.repeat(16) }, ctx.secrets)).resolves.toBeUndefined();
    await expect(rotator.revoke(ctx.settings, { serial: 'not-hex!' }, ctx.secrets)).rejects.toThrow(
      'revoke: the handle serial is not a certificate serial number',
    );
    await expect(rotator.revoke(ctx.settings, {}, ctx.secrets)).rejects.toThrow('revoke: the handle has no serial');
  });

  it('rollback revokes the pending certificate and leaves the current one valid', async () => {
    const { rotator, context, pki } = await setup();
    const current = await rotator.createValue(context());
    const ctx = context(SETTINGS, { current });
    const pending = await rotator.createValue(ctx);
    await rotator.rollback(ctx, pending);
    await rotator.rollback(ctx, pending);
    expect((await pki.certificate(read(pending).serialNumber)).status).toBe('revoked');
    expect((await pki.certificate(read(current).serialNumber)).status).toBe('valid');
    expect(await crlSerials(pki)).toEqual([read(pending).serialNumber]);
  });

  it('rollback revokes nothing without a pending value, or when pending is the current certificate', async () => {
    const { rotator, context, pki } = await setup();
    const current = await rotator.createValue(context());
    const ctx = context(SETTINGS, { current });
    await rotator.rollback(ctx, undefined);
    await rotator.rollback(ctx, current);
    await rotator.rollback(ctx, { kind: 'string', string: 'placeholder' });
    expect((await pki.certificate(read(current).serialNumber)).status).toBe('valid');
    expect(await crlSerials(pki)).toEqual([]);
  });
});

describe('certificateRotator: settings', () => {
  // Parsing needs no CA: a bare engine will do.
  const rotator = certificateRotator({ pki: pkiFixture().pki });

  it('normalises settings: renewAtFraction 2/3 by default, ttl in seconds', () => {
    expect(rotator.parseSettings({ role: 'web', commonName: 'a.example.com', ttl: '72h' })).toEqual({
      role: 'web',
      commonName: 'a.example.com',
      ttl: 3 * DAY,
      renewAtFraction: 2 / 3,
    });
    expect(rotator.parseSettings({ ...SETTINGS, ttl: 600, renewAtFraction: 0.75 })).toMatchObject({
      ttl: 600,
      renewAtFraction: 0.75,
    });
  });

  it.each([
    [{ commonName: 'a.example.com' }, 'role'],
    [{ role: 'bad role!', commonName: 'a.example.com' }, 'role'],
    [{ role: 'web' }, 'commonName'],
    [{ role: 'web', commonName: 'x'.repeat(65) }, 'commonName'],
    [{ role: 'web', commonName: 'a.example.com', altNames: 'a.example.com' }, 'altNames'],
    [{ role: 'web', commonName: 'a.example.com', ipSans: ['10.0.0.1', 'nope'] }, 'ipSans.1'],
    [{ role: 'web', commonName: 'a.example.com', ttl: 'soon' }, 'ttl'],
    [{ role: 'web', commonName: 'a.example.com', ttl: 0 }, 'ttl'],
    [{ role: 'web', commonName: 'a.example.com', keyType: 'dsa-1024' }, 'keyType'],
    [{ role: 'web', commonName: 'a.example.com', renewAtFraction: 0 }, 'renewAtFraction'],
    [{ role: 'web', commonName: 'a.example.com', renewAtFraction: 1 }, 'renewAtFraction'],
    [{ role: 'web', commonName: 'a.example.com', colour: 'blue' }, 'colour'],
  ])('rejects %j naming %s', (input, setting) => {
    let thrown: unknown;
    try {
      rotator.parseSettings(input);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ValidationError);
    expect((thrown as Error).message).toMatch(new RegExp(`^invalid certificate rotation settings: ${setting}: `));
  });
});
