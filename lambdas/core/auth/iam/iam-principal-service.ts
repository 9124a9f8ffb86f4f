import * as z from 'zod';
import { NotFoundError, ValidationError } from '../../errors.ts';
import { PolicyNameSchema } from '../../policy/policy-schema.ts';
import type { Clock } from '../../ports/clock.ts';
import { ConditionFailedError, type Store } from '../../ports/store.ts';
import type { Principal, PrincipalCeiling } from '../../principal.ts';
import { assertGrantable, ceilingsFrom } from '../derived-credentials.ts';

/** The store partition holding the IAM mappings, one item per ARN pattern. */
export const IAM_PRINCIPAL_PARTITION = 'iam-principals';

/**
 * An exact IAM or STS ARN, or one ending in `*` that matches every ARN with that prefix. The part after the account
 * must not be empty, so an account-wide grant is spelled out (`…:role/*`, `…:user/*`) rather than implied.
 */
const ARN_PATTERN = /^arn:aws[a-z-]*:(?:iam|sts)::\d{12}:[^*\s]+\*?$/;
const MAX_PATTERN_LENGTH = 1024;
const MAX_POLICIES = 64;

/** An STS assumed-role session: API Gateway reports this, never the role ARN itself. */
const ASSUMED_ROLE = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/([^/]+)$/;
/** IAM users and roles (with optional paths), and the account root. */
const IAM_ENTITY = /^arn:aws[a-z-]*:iam::(\d{12}):(?:(user|role)\/(?:[^/]+\/)*([^/]+)|(root))$/;
const FEDERATED_USER = /^arn:aws[a-z-]*:sts::(\d{12}):federated-user\/([^/]+)$/;

const PatternSchema = z
  .string({ error: 'must be a string' })
  .max(MAX_PATTERN_LENGTH, `must be at most ${MAX_PATTERN_LENGTH} characters`)
  .regex(ARN_PATTERN, 'must be an IAM or STS ARN, optionally ending in * (e.g. arn:aws:iam::123456789012:role/app-*)');

const PoliciesSchema = z
  .array(PolicyNameSchema)
  .min(1, 'must name at least one policy')
  .max(MAX_POLICIES, `must name at most ${MAX_POLICIES} policies`);

/** One mapping: callers whose ARN matches `pattern` get `policies`. */
export interface IamPrincipalMapping {
  readonly pattern: string;
  readonly policies: readonly string[];
}

interface MappingItem {
  [key: string]: unknown;
  policies: string[];
  /** The non-root creators of the mapping, as they were when they wrote it; see `Principal.ceilings`. */
  ceilings?: PrincipalCeiling[];
}

/** A mapping as stored: what callers get, and what bounds it. */
interface StoredMapping extends IamPrincipalMapping {
  readonly ceilings: readonly PrincipalCeiling[];
}

export interface IamPrincipalServiceOptions {
  readonly store: Store;
  readonly clock: Clock;
  /**
   * How long `resolve` may use the mappings without re-reading them. Writes through this service take effect at
   * once; writes by another instance (another Lambda) are seen within this delay.
   * @default 5000
   */
  readonly cacheTtlMs?: number;
}

interface CacheEntry {
  readonly expiresAt: number;
  /** A promise, so concurrent misses share one read of the partition. */
  readonly mappings: Promise<readonly StoredMapping[]>;
}

const DEFAULT_CACHE_TTL_MS = 5000;

/**
 * Maps IAM callers (the ARN API Gateway's IAM authoriser reports) to Coffer policies.
 *
 * A caller gets the UNION of the policies of every pattern its ARN matches, like IAM's own identity policies: adding a
 * mapping can only add access, never silently take away what a more specific one gave, and narrowing is what `deny`
 * rules in the policies are for. An assumed-role session `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` also
 * matches patterns for `arn:aws:iam::ACCOUNT:role/ROLE` (STS drops a role's path, so map pathed roles by session ARN).
 *
 * A mapping written by a creator without root names only policies that creator holds and carries the creator as a
 * ceiling: every caller it matches is then bounded by that creator's access (whoever the caller is, so a role named
 * after someone else gains nothing through templated policies).
 *
 * All mappings are read at once (prefix patterns cannot be looked up by key) and cached for `cacheTtlMs`.
 *
 * @example
 * ```ts
 * await iam.put('arn:aws:iam::123456789012:role/app-*', ['app-read']);
 * await iam.resolve('arn:aws:sts::123456789012:assumed-role/app-web/i-0abc'); // { type: 'iam', policies: ['app-read'], … }
 * ```
 */
export class IamPrincipalService {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #cacheTtlMs: number;
  #cache: CacheEntry | undefined;

  constructor(options: IamPrincipalServiceOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#cacheTtlMs = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
  }

  /**
   * Creates or replaces the mapping of `pattern`. `creator` is who asks (the API always passes its caller); without the
   * `root` policy it may map only policies it holds. Only trusted in-process callers (bootstrap, tests) omit it.
   * @throws ValidationError for a malformed pattern or policy name.
   * @throws PermissionDeniedError when a non-root creator maps policies it lacks.
   */
  async put(pattern: string, policies: readonly string[], creator?: Principal): Promise<IamPrincipalMapping> {
    const checkedPattern = parse(PatternSchema, pattern, 'pattern');
    const checkedPolicies = [...new Set(parse(PoliciesSchema, policies, 'policies'))].sort();
    const data: MappingItem = { policies: checkedPolicies };
    if (creator !== undefined) {
      assertGrantable(creator, checkedPolicies, 'an IAM mapping');
      const ceilings = ceilingsFrom(creator);
      if (ceilings.length > 0) data.ceilings = ceilings;
    }
    try {
      await this.#store.transact([{ type: 'put', pk: IAM_PRINCIPAL_PARTITION, sk: checkedPattern, data }]);
    } finally {
      this.#cache = undefined;
    }
    return { pattern: checkedPattern, policies: checkedPolicies };
  }

  /** @throws NotFoundError if `pattern` is not mapped. */
  async delete(pattern: string): Promise<void> {
    const checked = parse(PatternSchema, pattern, 'pattern');
    try {
      await this.#store.transact([
        { type: 'delete', pk: IAM_PRINCIPAL_PARTITION, sk: checked, condition: { kind: 'exists' } },
      ]);
    } catch (err) {
      if (err instanceof ConditionFailedError) {
        throw new NotFoundError(`no IAM mapping for ${checked}`, { cause: err });
      }
      throw err;
    } finally {
      this.#cache = undefined;
    }
  }

  /** Every mapping, sorted by pattern. Always read from the store. */
  async list(): Promise<IamPrincipalMapping[]> {
    return (await this.#read()).map(({ pattern, policies }) => ({ pattern, policies }));
  }

  async #read(): Promise<StoredMapping[]> {
    const mappings: StoredMapping[] = [];
    let startAfter: string | undefined;
    do {
      const page = await this.#store.query<MappingItem>(IAM_PRINCIPAL_PARTITION, {
        limit: 1000,
        ...(startAfter !== undefined && { startAfter }),
      });
      for (const item of page.items) {
        mappings.push({ pattern: item.sk, policies: [...item.data.policies], ceilings: item.data.ceilings ?? [] });
      }
      startAfter = page.lastKey;
    } while (startAfter !== undefined);
    return mappings;
  }

  /**
   * The principal of an IAM caller, or `undefined` when no pattern matches it (or the ARN is not an IAM identity),
   * which the broker turns into a refusal.
   */
  async resolve(arn: string): Promise<Principal | undefined> {
    const identity = describeCaller(arn);
    if (identity === undefined) return undefined;
    const policies = new Set<string>();
    const ceilings: PrincipalCeiling[] = [];
    for (const mapping of await this.#mappings()) {
      if (identity.candidates.some((candidate) => matches(mapping.pattern, candidate))) {
        for (const policy of mapping.policies) policies.add(policy);
        // Every matching mapping's creator bounds the caller: the policies are evaluated as one union, so a ceiling
        // kept per mapping could not tell which grant it was meant to bound.
        ceilings.push(...mapping.ceilings);
      }
    }
    if (policies.size === 0) return undefined;
    return {
      type: 'iam',
      id: arn,
      displayName: identity.displayName,
      policies: [...policies].sort(),
      metadata: identity.metadata,
      ...(ceilings.length === 0 ? {} : { ceilings }),
    };
  }

  #mappings(): Promise<readonly StoredMapping[]> {
    const now = this.#clock.now();
    if (this.#cache !== undefined && this.#cache.expiresAt > now) return this.#cache.mappings;
    const entry: CacheEntry = { expiresAt: now + this.#cacheTtlMs, mappings: this.#read() };
    this.#cache = entry;
    // A failed read must not be served for the whole TTL.
    entry.mappings.catch(() => {
      if (this.#cache === entry) this.#cache = undefined;
    });
    return entry.mappings;
  }
}

interface CallerIdentity {
  /** The caller ARN, and for an assumed role also the role's IAM ARN. */
  readonly candidates: readonly string[];
  readonly displayName: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** What a caller ARN says about who is calling; `undefined` for anything that is not an IAM identity. */
export function describeCaller(arn: string): CallerIdentity | undefined {
  if (arn.length > MAX_PATTERN_LENGTH) return undefined;
  const assumed = ASSUMED_ROLE.exec(arn);
  if (assumed !== null) {
    const [, partition, account, roleName, sessionName] = assumed as unknown as [
      string,
      string,
      string,
      string,
      string,
    ];
    return {
      candidates: [arn, `arn:${partition}:iam::${account}:role/${roleName}`],
      displayName: roleName,
      metadata: { arn, account, roleName, sessionName },
    };
  }
  const entity = IAM_ENTITY.exec(arn);
  if (entity !== null) {
    const [, account, kind, name, root] = entity as unknown as [string, string, string?, string?, string?];
    const displayName = root ?? name!;
    const metadata: Record<string, string> = { arn, account };
    if (kind === 'user') metadata.userName = displayName;
    if (kind === 'role') metadata.roleName = displayName;
    return { candidates: [arn], displayName, metadata };
  }
  const federated = FEDERATED_USER.exec(arn);
  if (federated !== null) {
    const [, account, userName] = federated as unknown as [string, string, string];
    return { candidates: [arn], displayName: userName, metadata: { arn, account, userName } };
  }
  return undefined;
}

function matches(pattern: string, arn: string): boolean {
  return pattern.endsWith('*') ? arn.startsWith(pattern.slice(0, -1)) : pattern === arn;
}

function parse<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? `${what}[${issue.path.join('.')}]` : what;
    throw new ValidationError(`invalid IAM mapping ${where}: ${issue.message}`);
  }
  return parsed.data;
}
