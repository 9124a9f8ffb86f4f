import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Broker } from '../../../../lambdas/broker/broker.ts';
import { nativeRoutes } from '../../../../lambdas/broker/routes/index.ts';
import { memoryNode, request } from '../../../support/memory-node.ts';

/**
 * Recorded AWS Secrets Manager answers (`test/fixtures/secretsmanager/<Operation>.json`) replayed against the broker:
 * each case sets up state with calls of its own, makes one request, and compares the whole answer (status, the
 * headers clients read, the body) with what AWS answered, after normalising only what differs on every run: ids
 * (ARN suffixes, generated version ids, request ids), dates, the region and account, and a random password's
 * characters (its length is compared).
 */
export interface FidelityFile {
  readonly operation: string;
  /** The headers every answer of the operation carries (normalised). */
  readonly headers: Readonly<Record<string, string>>;
  readonly cases: readonly FidelityCase[];
}

export interface FidelityCase {
  readonly name: string;
  /** Where the recorded answer comes from: an AWS documentation page, a recorded snapshot, a moto source, an issue. */
  readonly source: string;
  /** Calls made first, as root; each must succeed. */
  readonly setup?: readonly { readonly operation: string; readonly body: unknown }[];
  /** The request body (a JSON value, or raw text when a string). */
  readonly request: unknown;
  /** Rules of the caller's only policy; root when absent. */
  readonly caller?: readonly { readonly path: string; readonly capabilities: readonly string[] }[];
  readonly response: { readonly status: number; readonly body: unknown };
}

export const FIXTURES = path.join(import.meta.dirname, '../../../fixtures/secretsmanager');

export function loadFixtures(): FidelityFile[] {
  return readdirSync(FIXTURES)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as FidelityFile);
}

const DATE_MEMBERS = new Set([
  'CreatedDate',
  'LastChangedDate',
  'LastAccessedDate',
  'LastRotatedDate',
  'NextRotationDate',
  'DeletedDate',
  'DeletionDate',
]);
const ARN = /arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:([A-Za-z0-9/_+=.@-]+?)-[A-Za-z0-9]{6}(?![A-Za-z0-9])/g;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/**
 * Replaces what differs on every run with placeholders: `<arn:NAME>` for a secret's ARN, `<date>` for a timestamp,
 * `<uuid:N>` for a generated id (numbered by first appearance, so that a version id answered twice must be the same
 * one), `<random:LENGTH>` for a random password. A version id a case chose itself (a ClientRequestToken in its
 * requests) stays as it is.
 */
export function normalise(value: unknown, chosen: ReadonlySet<string>): unknown {
  const ids = new Map<string, string>();
  const text = (s: string) =>
    s
      .replace(ARN, (_all, name: string) => `<arn:${name}>`)
      .replace(UUID, (id) => {
        if (chosen.has(id)) return id;
        if (!ids.has(id)) ids.set(id, `<uuid:${ids.size + 1}>`);
        return ids.get(id)!;
      });
  const walk = (v: unknown, key?: string): unknown => {
    if (key !== undefined && DATE_MEMBERS.has(key) && typeof v === 'number') return '<date>';
    if (key === 'RandomPassword' && typeof v === 'string') return `<random:${v.length}>`;
    if (typeof v === 'string') return text(v);
    if (Array.isArray(v)) return v.map((item) => walk(item));
    if (typeof v === 'object' && v !== null) {
      return Object.fromEntries(Object.entries(v).map(([k, item]) => [text(k), walk(item, k)]));
    }
    return v;
  };
  return walk(value);
}

/** Every UUID a case wrote into its own requests. */
export function chosenIds(fixtureCase: FidelityCase): Set<string> {
  const all = JSON.stringify([fixtureCase.setup ?? [], fixtureCase.request]);
  return new Set(all.match(UUID) ?? []);
}

/** A fresh broker on in-memory adapters, and a caller of its Secrets Manager API. */
export async function fidelityNode() {
  let now = Date.UTC(2026, 10, 1, 12, 0, 0);
  const node = await memoryNode({ now: () => now });
  const broker = new Broker(node.deps, nativeRoutes(), () => {});
  const rootRecord = await node.deps.tokens.lookup({ token: node.rootToken });
  let policies = 0;
  const tokenFor = async (rules: readonly { path: string; capabilities: readonly string[] }[]) => {
    const name = `fidelity-${++policies}`;
    await node.deps.policies.put({ name, rules: rules.map((r) => ({ ...r, capabilities: [...r.capabilities] })) });
    return (await node.deps.tokens.create(rootRecord, { policies: [name] })).token;
  };
  const call = async (operation: string, body: unknown, token = node.rootToken) => {
    const req = request('POST', '/v1/aws/secretsmanager', { token, body });
    const res = await broker.handle({
      ...req,
      headers: {
        ...req.headers,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `secretsmanager.${operation}`,
      },
    });
    now += 1000;
    return res;
  };
  return { call, tokenFor };
}
