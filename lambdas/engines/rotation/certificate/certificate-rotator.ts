import { webcrypto } from 'node:crypto';
import { CofferError, NotFoundError, ValidationError } from '../../../core/errors.ts';
import { lazyImport } from '../../../core/lazy-import.ts';
import { type Clock, systemClock } from '../../../core/ports/clock.ts';
import {
  type Retired,
  type RevocationHandle,
  RotationStepError,
  type Rotator,
  type RotatorContext,
} from '../../../core/rotation/rotation-types.ts';
import type { SecretValue } from '../../../core/secrets/secret-types.ts';
import type { IssueRequest, PkiService } from '../../pki/pki-service.ts';
import { type CertificateSettings, parseCertificateSettings, renewPoint } from './certificate-settings.ts';

/**
 * The certificate parser and CSR builder (@peculiar/x509 and its ASN.1 stack) are loaded at the first rotation step
 * of a certificate secret, not when the broker starts: they are about a tenth of the broker Lambda's cold import.
 * The Reflect polyfill first, on its own: in a split bundle esbuild does not keep the evaluation order of imports
 * across chunks, and tsyringe (under @peculiar/x509) refuses to load without it (see core/auth/cert/x509.ts).
 */
const loadParts = lazyImport(() => import('reflect-metadata').then(() => import('./certificate-parts.ts')));

/** What the rotator needs of the PKI engine. */
export type CertificatePki = Pick<PkiService, 'issue' | 'sign' | 'revoke' | 'caChain'>;

export interface CertificateRotatorOptions {
  readonly pki: CertificatePki;
  /**
   * The time createValue checks a newly issued certificate against (after the issue call returned), so a ttl too
   * short for `renewAtFraction` fails at once with an actionable message. The other steps use the context's `now`.
   * @default systemClock
   */
  readonly clock?: Clock;
}

/** A certificate always knows when it falls due, so `dueAt` is never absent here. */
export type CertificateRotator = Rotator<CertificateSettings> & {
  readonly type: 'certificate';
  dueAt(settings: CertificateSettings, current: SecretValue): Promise<number | undefined>;
};

/** PKI errors that say the request itself is wrong: retrying cannot help, so the rotation fails and rolls back. */
const REFUSALS = new Set(['validation', 'not_found', 'permission_denied', 'invalid_request']);

/**
 * Certificate rotation: each rotation issues a new certificate, with a new key pair, from a PKI role, ahead of the
 * current one's expiry (by default at two-thirds of its lifetime, see `dueAt`). The previous certificate stays
 * AWSPREVIOUS and valid until it expires; a breach rotation revokes it at once, which puts it on the CRL.
 *
 * @example
 * const rotator = certificateRotator({ pki });
 * const settings = rotator.parseSettings({ role: 'web', commonName: 'api.example.com', ttl: '72h' });
 */
export function certificateRotator(options: CertificateRotatorOptions): CertificateRotator {
  const { pki } = options;
  const clock = options.clock ?? systemClock;

  async function revokeSerial(serial: string): Promise<void> {
    try {
      await pki.revoke(serial);
    } catch (err) {
      // Unknown to the engine (never stored, or tidied after expiry): there is nothing left to revoke.
      if (err instanceof NotFoundError) return;
      if (err instanceof ValidationError) {
        throw new RotationStepError('revoke: the handle serial is not a certificate serial number', { cause: err });
      }
      throw err;
    }
  }

  async function issue(
    settings: CertificateSettings,
    secretName: string,
  ): Promise<{ certificate: string; privateKey: string; chain: string[] }> {
    const request: IssueRequest = {
      common_name: settings.commonName,
      alt_names: settings.altNames,
      ip_sans: settings.ipSans,
      ttl: settings.ttl,
      // Its CertificateExpiring and CertificateExpired events name the secret that holds it.
      forSecret: secretName,
    };
    try {
      if (settings.keyType === undefined) {
        // The engine generates the key pair (the role's key_type) and hands the private key back once.
        const issued = await pki.issue(settings.role, request);
        return { certificate: issued.certificate, privateKey: issued.private_key, chain: issued.ca_chain };
      }
      // A key type of our own: generate the pair here and have the role sign a CSR for it.
      const { generateLeafKey, leafSigningAlgorithm, Name, PemConverter, Pkcs10CertificateRequestGenerator } =
        await loadParts();
      const keys = await generateLeafKey(settings.keyType);
      const csr = await Pkcs10CertificateRequestGenerator.create({
        name: new Name([{ CN: [settings.commonName] }]),
        keys,
        signingAlgorithm: leafSigningAlgorithm(settings.keyType),
      });
      const signed = await pki.sign(settings.role, { ...request, csr: csr.toString('pem') });
      const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
      try {
        const pem = PemConverter.encode(pkcs8, 'PRIVATE KEY');
        return {
          certificate: signed.certificate,
          privateKey: pem.endsWith('\n') ? pem : `${pem}\n`,
          chain: signed.ca_chain,
        };
      } finally {
        pkcs8.fill(0);
      }
    } catch (err) {
      if (err instanceof CofferError && REFUSALS.has(err.code)) {
        throw new RotationStepError(
          `createSecret: PKI role "${settings.role}" refused the certificate (settings role, commonName, altNames, ` +
            `ipSans, ttl, keyType): ${err.message}`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  return {
    type: 'certificate',

    parseSettings: parseCertificateSettings,

    // The rotation issues from the role (or has it sign a CSR), as `pki issue` / `pki sign` would for the caller.
    references: (settings) => [
      { path: `pki/${settings.keyType === undefined ? 'issue' : 'sign'}/${settings.role}`, capability: 'update' },
    ],

    async createValue(ctx: RotatorContext<CertificateSettings>): Promise<SecretValue> {
      const { certificate, privateKey, chain } = await issue(ctx.settings, ctx.secretName);
      const { certificateFacts, certificateValue } = await loadParts();
      const value = certificateValue(certificate, privateKey, chain);
      const facts = certificateFacts(value)!;
      if (renewPoint(facts.notBefore, facts.notAfter, ctx.settings.renewAtFraction) <= clock.now()) {
        // The service stores nothing when createValue throws, so rollback cannot find this one: revoke it here.
        await revokeSerial(facts.serial);
        throw new RotationStepError(
          'createSecret: the new certificate is already past its renew point: raise ttl or renewAtFraction',
        );
      }
      return value;
    },

    async setSecret(): Promise<void> {
      // Nothing to push: the certificate exists from the moment createValue had it issued, and the services that
      // present it read it from the secret when AWSCURRENT moves. There is no target holding a copy to update.
    },

    async testSecret(ctx: RotatorContext<CertificateSettings>, pending: SecretValue): Promise<void> {
      const { certificateFacts, readCertificateValue, verifyChain, verifyKeyMatch } = await loadParts();
      const value = readCertificateValue(pending, 'pending value');
      const facts = certificateFacts(pending);
      if (facts === undefined) throw new RotationStepError('chain: certificate is not a PEM X.509 certificate');
      if (value.serialNumber.toLowerCase() !== facts.serial) {
        throw new RotationStepError('pending value: field serialNumber does not match the certificate');
      }
      if (value.fullChain !== [value.certificate, ...value.chain].join('')) {
        throw new RotationStepError('pending value: field fullChain is not the certificate followed by chain');
      }
      const anchor = (await pki.caChain()).ca_chain.at(-1)!;
      await verifyChain(value.certificate, value.chain, anchor, ctx.now);

      const { notBefore, notAfter } = facts;
      if (ctx.now < notBefore) {
        throw new RotationStepError(`validity: the certificate is not valid before ${iso(notBefore)}`);
      }
      if (ctx.now >= notAfter) throw new RotationStepError(`validity: the certificate expired at ${iso(notAfter)}`);
      const renewAt = renewPoint(notBefore, notAfter, ctx.settings.renewAtFraction);
      if (ctx.now >= renewAt) {
        throw new RotationStepError(
          `validity: the certificate is already past its renew point ${iso(renewAt)} (renewAtFraction ` +
            `${ctx.settings.renewAtFraction} of its lifetime)`,
        );
      }
      verifyKeyMatch(value.certificate, value.privateKey);
    },

    async rollback(ctx: RotatorContext<CertificateSettings>, pending: SecretValue | undefined): Promise<void> {
      // createValue failed before the service stored anything: createValue revoked what it had issued, if anything.
      if (pending === undefined) return;
      // The pending certificate was never handed to anyone; revoking it keeps a copy of its key from being usable.
      // A value we cannot read holds no certificate of ours to revoke.
      const { certificateFacts } = await loadParts();
      const facts = certificateFacts(pending);
      if (facts === undefined) return;
      // Never the live certificate, whatever the pending value holds.
      if (ctx.current !== undefined && certificateFacts(ctx.current)?.serial === facts.serial) return;
      await revokeSerial(facts.serial);
    },

    async retire(ctx: RotatorContext<CertificateSettings>, previous: SecretValue): Promise<Retired | undefined> {
      const { certificateFacts } = await loadParts();
      const facts = certificateFacts(previous);
      // A placeholder put before the first rotation holds no certificate: nothing to revoke.
      if (facts === undefined) return undefined;
      if (ctx.current !== undefined && certificateFacts(ctx.current)?.serial === facts.serial) return undefined;
      // Not by time: the old certificate stays valid, as AWSPREVIOUS, until it expires. A breach revokes it at once.
      return { handle: { serial: facts.serial }, afterMs: undefined };
    },

    async revoke(_settings: CertificateSettings, handle: RevocationHandle): Promise<void> {
      const serial = handle.serial;
      if (serial === undefined || serial === '') throw new RotationStepError('revoke: the handle has no serial');
      await revokeSerial(serial);
    },

    async dueAt(settings: CertificateSettings, current: SecretValue): Promise<number | undefined> {
      const { certificateFacts } = await loadParts();
      const facts = certificateFacts(current);
      // No certificate yet: the rotation rules alone decide.
      if (facts === undefined) return undefined;
      return renewPoint(facts.notBefore, facts.notAfter, settings.renewAtFraction);
    },
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
