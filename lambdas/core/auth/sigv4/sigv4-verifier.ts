import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { type CofferErrorOptions, UnauthenticatedError } from '../../errors.ts';
import type { Clock } from '../../ports/clock.ts';
import type { Principal } from '../../principal.ts';
import { AllowedHosts, type AllowedHostsOptions } from '../allowed-hosts.ts';
import { type AccessKeyService, accessKeyPrincipal } from './access-key-service.ts';
import { NodeSha256 } from './node-sha256.ts';

/**
 * What SigV4 verification reads of an HTTP request. The broker's request has this shape; the core names only the
 * fields it needs so that it does not depend on the broker.
 */
export interface SignedRequest {
  readonly method: string;
  /** Path as received, still percent-encoded, without the query string. */
  readonly rawPath: string;
  readonly query: Readonly<Record<string, string>>;
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | undefined;
}

/**
 * The error names AWS returns for SigV4 failures, as AWS JSON-protocol services (Secrets Manager among them) send them
 * in `__type`:
 * - `MissingAuthenticationToken`: no `Authorization` header at all;
 * - `IncompleteSignature`: the header (or a header it depends on) is malformed or incomplete;
 * - `InvalidClientTokenId`: unknown or inactive access key, or a session token (not supported);
 * - `InvalidSignatureException`: the signature does not match, the request is outside the clock-skew window
 *   ("Signature expired" / "Signature not yet current"), the credential scope names another service, region or day,
 *   or the request was signed for a host this node does not answer to.
 *   The AWS SDKs treat this name as a clock-skew error and retry once with a clock corrected from the `Date`
 *   response header, which is what we want for an expired request.
 */
export type SigV4ErrorCode =
  | 'MissingAuthenticationToken'
  | 'IncompleteSignature'
  | 'InvalidClientTokenId'
  | 'InvalidSignatureException';

/**
 * A request that SigV4 authentication refused. `awsCode` is the error name an AWS-compatible API must answer with;
 * the message is AWS's wording where it has one and never holds key material.
 */
export class SigV4Error extends UnauthenticatedError {
  readonly awsCode: SigV4ErrorCode;

  constructor(awsCode: SigV4ErrorCode, message: string, options: CofferErrorOptions = {}) {
    super(message, { ...options, details: { ...options.details, awsCode } });
    this.awsCode = awsCode;
  }
}

export interface SigV4VerifierOptions {
  /** Where access keys come from: only the plaintext secret (and record) of an active key is needed. */
  readonly accessKeys: Pick<AccessKeyService, 'secretFor'>;
  readonly clock: Clock;
  /** How far `X-Amz-Date` may be from the clock, either way (AWS's window). @default 900_000 (15 minutes) */
  readonly maxSkewMs?: number;
  /** Signing names a credential scope may name, e.g. `['secretsmanager']`. */
  readonly services: readonly string[];
  /**
   * Regions a credential scope may name, e.g. `['us-east-1']`. A signature is only meant for the regions it names:
   * without this check, one captured for another deployment (or for AWS itself, if a key is shared) would replay here.
   */
  readonly regions: readonly string[];
  /**
   * The hosts a signature may be made for (the signed `Host`). Like the region, it stops a signature made for
   * another server from being replayed to this one.
   * @default loopback names only (`localhost`, `127.x.x.x`, `[::1]`, any port)
   */
  readonly hosts?: AllowedHostsOptions;
}

export interface VerifyOptions {
  /**
   * The host the client signed, when a proxy in front rewrote the `Host` header (e.g. from `X-Forwarded-Host`).
   * @default the request's `host` header
   */
  readonly host?: string | undefined;
}

/** A request whose signature checked out. */
export interface VerifiedSigV4 {
  readonly principal: Principal;
  readonly accessKeyId: string;
  /** Region of the credential scope, e.g. `us-east-1`: AWS-compatible APIs put it in the ARNs they return. */
  readonly region: string;
  readonly service: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const DEFAULT_MAX_SKEW_MS = 15 * 60_000;
const INVALID_KEY = 'The security token included in the request is invalid.';
const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
/** A header name is an RFC 9110 token; SigV4 wants it lower-case. */
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const SIGNATURE_SHAPE = /^[0-9a-f]{64}$/;
const ACCESS_KEY_ID_SHAPE = /^[A-Za-z0-9]{1,128}$/;
const SCOPE_DATE_SHAPE = /^\d{8}$/;
const REGION_SHAPE = /^[a-z0-9-]{1,64}$/;
const SERVICE_SHAPE = /^[a-z0-9-]{1,64}$/;
const AMZ_DATE_SHAPE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** A raw path is URL text: printable ASCII, percent-encoded beyond that. */
const RAW_PATH_SHAPE = /^\/[\x21-\x7e]*$/;
/** The signer always regenerates these, so a client's own `Date` or `Authorization` cannot take part in a signature. */
const UNSIGNABLE = new Set(['authorization', 'date']);

interface ParsedAuthorization {
  readonly accessKeyId: string;
  readonly scopeDate: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

/**
 * Verifies AWS Signature Version 4 `Authorization` headers against Coffer's access keys, so unmodified AWS SDKs and
 * CLIs can call Coffer's AWS-compatible APIs.
 *
 * The signature is not recomputed by hand: the request is rebuilt from exactly the headers the client signed, with
 * the raw path and raw body as received, and signed again with `@smithy/signature-v4`, the signer of the AWS SDK
 * for JavaScript. The two signatures are compared in constant time.
 *
 * Not supported (refused): session tokens (`X-Amz-Security-Token`), presigned URLs, SigV4a, `UNSIGNED-PAYLOAD` and
 * streaming payloads, and signing the `Date` header instead of `X-Amz-Date`.
 *
 * Every header that changes what a request means must be signed, or it could be swapped under a valid signature:
 * `host` and `x-amz-date` always, and `content-type`, `x-amz-target` and every `x-amz-*` header whenever the request
 * carries them (the AWS SDKs and the aws CLI sign all of these; a native `GET` without a body has no content type).
 * So a header a proxy adds after signing (CloudFront's `x-amz-cf-id`, say) makes the request fail.
 *
 * The canonical path is normalised as SigV4 prescribes for every service but S3 (`/a/../` signs like `/`), so the
 * caller must route on the exact raw path it verified.
 *
 * @example
 * const verifier = new SigV4Verifier({
 *   accessKeys, clock: systemClock, services: ['secretsmanager'], regions: ['us-east-1'],
 *   hosts: { names: ['coffer.internal'] },
 * });
 * const { principal, region } = await verifier.verify(request);
 */
export class SigV4Verifier {
  private readonly accessKeys: Pick<AccessKeyService, 'secretFor'>;
  private readonly clock: Clock;
  private readonly maxSkewMs: number;
  private readonly services: ReadonlySet<string>;
  private readonly regions: ReadonlySet<string>;
  private readonly hosts: AllowedHosts;

  constructor(options: SigV4VerifierOptions) {
    this.accessKeys = options.accessKeys;
    this.clock = options.clock;
    this.maxSkewMs = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
    if (!Number.isSafeInteger(this.maxSkewMs) || this.maxSkewMs < 0) {
      throw new RangeError('maxSkewMs must be a whole number of milliseconds ≥ 0');
    }
    this.services = new Set(options.services);
    if (this.services.size === 0) throw new RangeError('services must name at least one signing name');
    this.regions = new Set(options.regions);
    if (this.regions.size === 0) throw new RangeError('regions must name at least one region');
    for (const region of this.regions) {
      if (!REGION_SHAPE.test(region)) throw new RangeError(`not a region: ${JSON.stringify(region)}`);
    }
    this.hosts = new AllowedHosts(options.hosts);
  }

  /**
   * Authenticates a SigV4-signed request. Cheap checks (syntax, clock skew, scope, payload hash) run before the key
   * lookup, so junk and replayed-too-late requests never reach the store.
   * @throws SigV4Error with the AWS error name to answer with; nothing else for a bad request.
   * @example const { principal, region, accessKeyId } = await verifier.verify(request);
   */
  async verify(request: SignedRequest, options: VerifyOptions = {}): Promise<VerifiedSigV4> {
    const authorization = request.headers.authorization;
    if (authorization === undefined || authorization.trim() === '') {
      throw new SigV4Error('MissingAuthenticationToken', 'Request is missing Authentication Token');
    }
    const auth = parseAuthorization(authorization);
    const signedHeaders = signedHeaderValues(request, auth.signedHeaders, options.host);
    requireSigned(request, auth.signedHeaders);

    const amzDate = signedHeaders['x-amz-date'] ?? '';
    const signingDate = parseAmzDate(amzDate);
    if (auth.scopeDate !== amzDate.slice(0, 8)) {
      throw new SigV4Error(
        'InvalidSignatureException',
        `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.scopeDate}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
      );
    }
    this.checkSkew(amzDate, signingDate);
    if (!this.services.has(auth.service)) {
      throw new SigV4Error(
        'InvalidSignatureException',
        `Credential should be scoped to correct service: '${[...this.services].join("' or '")}'.`,
      );
    }
    if (!this.regions.has(auth.region)) {
      throw new SigV4Error(
        'InvalidSignatureException',
        `Credential should be scoped to a valid region, not '${auth.region}'. This node serves '${[...this.regions].join("' or '")}'.`,
      );
    }
    if (!this.hosts.allows(signedHeaders.host)) {
      throw new SigV4Error('InvalidSignatureException', 'The request was signed for a host this node does not serve.');
    }
    if (request.headers['x-amz-security-token'] !== undefined) {
      throw new SigV4Error('InvalidClientTokenId', `${INVALID_KEY} Session tokens are not supported.`);
    }
    if (!RAW_PATH_SHAPE.test(request.rawPath))
      throw new SigV4Error('IncompleteSignature', 'The request path is malformed.');
    checkPayloadHash(signedHeaders['x-amz-content-sha256'], request.body);

    const found = await this.accessKeys.secretFor(auth.accessKeyId);
    if (found === undefined || found.record.status !== 'active' || found.record.accessKeyId !== auth.accessKeyId) {
      throw new SigV4Error('InvalidClientTokenId', INVALID_KEY);
    }
    const expected = await computeSignature(request, auth, signedHeaders, signingDate, found.secret);
    if (expected === undefined || !sameSignature(expected, auth.signature)) {
      throw new SigV4Error('InvalidSignatureException', MISMATCH);
    }
    return {
      principal: accessKeyPrincipal(found.record),
      accessKeyId: auth.accessKeyId,
      region: auth.region,
      service: auth.service,
    };
  }

  private checkSkew(amzDate: string, signingDate: Date): void {
    const now = this.clock.now();
    const minutes = formatMinutes(this.maxSkewMs);
    if (now - signingDate.getTime() > this.maxSkewMs) {
      throw new SigV4Error(
        'InvalidSignatureException',
        `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(now - this.maxSkewMs)} (${formatAmzDate(now)} - ${minutes} min.)`,
      );
    }
    if (signingDate.getTime() - now > this.maxSkewMs) {
      throw new SigV4Error(
        'InvalidSignatureException',
        `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(now + this.maxSkewMs)} (${formatAmzDate(now)} + ${minutes} min.)`,
      );
    }
  }
}

/**
 * Parses `AWS4-HMAC-SHA256 Credential=<id>/<yyyymmdd>/<region>/<service>/aws4_request, SignedHeaders=a;b, Signature=<hex>`.
 * Each component must appear exactly once; their order is free, as with AWS.
 */
function parseAuthorization(header: string): ParsedAuthorization {
  const space = header.indexOf(' ');
  const algorithm = space === -1 ? header : header.slice(0, space);
  if (algorithm !== ALGORITHM) {
    throw new SigV4Error('IncompleteSignature', `Authorization header must use the ${ALGORITHM} algorithm.`);
  }
  const components = new Map<string, string>();
  for (const part of header.slice(space + 1).split(',')) {
    const component = part.trim();
    const equals = component.indexOf('=');
    const name = equals === -1 ? component : component.slice(0, equals);
    if (equals === -1 || !['Credential', 'SignedHeaders', 'Signature'].includes(name) || components.has(name)) {
      throw new SigV4Error('IncompleteSignature', 'Authorization header is malformed.');
    }
    components.set(name, component.slice(equals + 1));
  }
  for (const name of ['Credential', 'SignedHeaders', 'Signature']) {
    if (!components.get(name)) {
      throw new SigV4Error('IncompleteSignature', `Authorization header requires '${name}' parameter.`);
    }
  }

  const [accessKeyId = '', scopeDate = '', region = '', service = '', terminator, ...extra] = (
    components.get('Credential') ?? ''
  ).split('/');
  if (terminator !== 'aws4_request' || extra.length > 0) {
    throw new SigV4Error(
      'IncompleteSignature',
      'Credential must have the form <key>/<date>/<region>/<service>/aws4_request.',
    );
  }
  if (!ACCESS_KEY_ID_SHAPE.test(accessKeyId)) throw new SigV4Error('InvalidClientTokenId', INVALID_KEY);
  if (!SCOPE_DATE_SHAPE.test(scopeDate)) throw new SigV4Error('IncompleteSignature', 'Credential date is malformed.');
  if (!REGION_SHAPE.test(region))
    throw new SigV4Error('IncompleteSignature', 'Credential should be scoped to a valid region.');
  if (!SERVICE_SHAPE.test(service)) throw new SigV4Error('IncompleteSignature', 'Credential service is malformed.');

  const signedHeaders = (components.get('SignedHeaders') ?? '').split(';');
  signedHeaders.forEach((name, index) => {
    if (!HEADER_NAME.test(name)) throw new SigV4Error('IncompleteSignature', 'SignedHeaders is malformed.');
    // The canonical request lists them sorted and unique; a client that did otherwise signed something else.
    const previous = signedHeaders[index - 1];
    if (previous !== undefined && previous >= name) {
      throw new SigV4Error('IncompleteSignature', 'SignedHeaders must be sorted and unique.');
    }
    if (UNSIGNABLE.has(name)) {
      throw new SigV4Error('IncompleteSignature', `SignedHeaders must not include '${name}'; sign 'x-amz-date'.`);
    }
  });
  for (const required of ['host', 'x-amz-date']) {
    if (!signedHeaders.includes(required)) {
      throw new SigV4Error('IncompleteSignature', `'${required}' must be a signed header.`);
    }
  }

  const signature = components.get('Signature') ?? '';
  if (!SIGNATURE_SHAPE.test(signature)) throw new SigV4Error('IncompleteSignature', 'Signature is malformed.');
  return { accessKeyId, scopeDate, region, service, signedHeaders, signature };
}

/** The value of every signed header, which must all be present; `host` may be overridden by a trusted proxy's view. */
function signedHeaderValues(
  request: SignedRequest,
  names: readonly string[],
  hostOverride: string | undefined,
): Record<string, string> {
  const values: Record<string, string> = Object.create(null);
  for (const name of names) {
    const value = name === 'host' && hostOverride !== undefined ? hostOverride : request.headers[name];
    if (typeof value !== 'string') {
      throw new SigV4Error('IncompleteSignature', `Signed header '${name}' is missing from the request.`);
    }
    values[name] = value;
  }
  return values;
}

/**
 * Refuses a request carrying a meaningful header its signature does not cover: an unsigned `x-amz-target` could turn
 * a signed DescribeSecret into GetSecretValue, an unsigned `content-type` change how the body is read.
 */
function requireSigned(request: SignedRequest, signed: readonly string[]): void {
  for (const name of Object.keys(request.headers)) {
    const lower = name.toLowerCase();
    const mustSign = lower === 'content-type' || lower.startsWith('x-amz-');
    if (mustSign && !signed.includes(lower)) {
      throw new SigV4Error('IncompleteSignature', `'${lower}' must be a signed header when the request carries it.`);
    }
  }
}

/** `X-Amz-Date` in ISO 8601 basic format, e.g. `20240102T030405Z`, as a real calendar instant. */
function parseAmzDate(value: string): Date {
  const match = AMZ_DATE_SHAPE.exec(value);
  if (match !== null) {
    const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
    // Date.UTC rolls 20240230 over to March: only a date that formats back to itself is real.
    if (formatAmzDate(date.getTime()) === value) return date;
  }
  throw new SigV4Error('IncompleteSignature', 'X-Amz-Date must be a date in ISO 8601 basic format (YYYYMMDDTHHMMSSZ).');
}

function formatAmzDate(epochMs: number): string {
  return new Date(epochMs)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

function formatMinutes(ms: number): string {
  return String(Math.round((ms / 60_000) * 100) / 100);
}

/**
 * The signer trusts a signed `x-amz-content-sha256` as the payload hash, so it must be checked against the body here:
 * otherwise the body could be swapped while the signed hash stays put.
 */
function checkPayloadHash(declared: string | undefined, body: Buffer | undefined): void {
  if (declared === undefined) return;
  if (!SHA256_HEX.test(declared)) {
    throw new SigV4Error('IncompleteSignature', 'x-amz-content-sha256 must be the hex SHA-256 of the payload.');
  }
  const actual = createHash('sha256')
    .update(body ?? Buffer.alloc(0))
    .digest('hex');
  if (actual !== declared) {
    throw new SigV4Error(
      'InvalidSignatureException',
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
  }
}

/** Signs the request again as the client must have, or `undefined` when the rebuilt request cannot be signed. */
async function computeSignature(
  request: SignedRequest,
  auth: ParsedAuthorization,
  headers: Record<string, string>,
  signingDate: Date,
  secretAccessKey: string,
): Promise<string | undefined> {
  const signer = new SignatureV4({
    service: auth.service,
    region: auth.region,
    credentials: { accessKeyId: auth.accessKeyId, secretAccessKey },
    sha256: NodeSha256,
    // Every AWS service but S3 signs the URI-encoded, dot-segment-normalised path; so does the AWS SDK for them.
    uriEscapePath: true,
    // Sign exactly what the client signed: no x-amz-content-sha256 of our own.
    applyChecksum: false,
  });
  const unsigned = new HttpRequest({
    method: request.method,
    protocol: 'https:',
    hostname: headers.host ?? '',
    path: request.rawPath,
    query: { ...request.query },
    headers: { ...headers },
    body: request.body ?? undefined,
  });
  let authorization: string | undefined;
  try {
    // `signableHeaders` makes headers the SDK never signs itself (user-agent, ...) count when a client did sign them.
    const signed = await signer.sign(unsigned, { signingDate, signableHeaders: new Set(auth.signedHeaders) });
    authorization = signed.headers.authorization;
  } catch (err) {
    // Malformed percent-encoding or unpaired surrogates make the signer's URI escaping throw: not a valid signature.
    if (err instanceof URIError) return undefined;
    throw err;
  }
  const computed = /^AWS4-HMAC-SHA256 Credential=\S+, SignedHeaders=(\S+), Signature=([0-9a-f]{64})$/.exec(
    authorization ?? '',
  );
  // If the signer left out a header the client listed, it signed a different canonical request.
  if (computed === null || computed[1] !== auth.signedHeaders.join(';')) return undefined;
  return computed[2];
}

function sameSignature(expected: string, presented: string): boolean {
  const left = Buffer.from(expected, 'utf8');
  const right = Buffer.from(presented, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}
