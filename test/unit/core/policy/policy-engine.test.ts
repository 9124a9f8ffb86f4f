import { describe, expect, it } from 'vitest';
import { evaluate, ROOT_POLICY } from '../../../../lambdas/core/policy/policy-engine.ts';
import {
  CAPABILITIES,
  type PolicyDocument,
  type RequestedCapability,
} from '../../../../lambdas/core/policy/policy-types.ts';
import type { Principal } from '../../../../lambdas/core/principal.ts';
import { policy, request, rule } from './fixtures.ts';

const REQUESTABLE = CAPABILITIES.filter((c): c is RequestedCapability => c !== 'deny');

const APP = policy(
  'app',
  rule('secrets/app/config', ['read']),
  rule('secrets/app/*', ['read', 'list']),
  rule('secrets/prod*', ['list']),
  rule('secrets/+/db', ['read']),
  rule('secrets/team/+/creds/*', ['read']),
  rule('sys/policies/app', ['read', 'update', 'delete']),
  rule('auth/token/create', ['create']),
  rule('secrets/+/+/leaf', ['rotate']),
);
const OPS = policy(
  'ops',
  rule('secrets/*', ['list']),
  rule('secrets/prod/*', ['read', 'update', 'create', 'delete', 'rotate']),
  rule('secrets/app/*', ['update']),
  rule('sys/audit/hash', ['update', 'sudo']),
  rule('secrets/legacy/keep', ['read']),
);
const LOCKDOWN = policy('lockdown', rule('secrets/prod/root-creds', ['deny']), rule('secrets/legacy/*', ['deny']));
const STANDARD = [APP, OPS, LOCKDOWN];

const TEMPLATED = policy(
  'templated',
  rule('secrets/users/{{principal.id}}/*', ['create', 'read', 'update', 'delete', 'list']),
  rule('secrets/teams/{{principal.metadata.team}}/*', ['read']),
  rule('secrets/names/{{principal.name}}', ['read']),
  rule('secrets/mixed/team-{{principal.metadata.team}}-{{principal.id}}', ['read']),
  rule('secrets/prefix/{{principal.id}}*', ['read']),
);

const CONDITIONAL = policy(
  'conditional',
  rule('secrets/office/*', ['read'], { timeOfDay: { start: '09:00', end: '17:00' } }),
  rule('secrets/night/*', ['read'], { timeOfDay: { start: '22:00', end: '06:00' } }),
  rule('secrets/net/*', ['read'], { sourceCidrs: ['10.0.0.0/8', '2001:db8::/32'] }),
  rule('secrets/weekday/*', ['read'], { weekdays: ['mon', 'tue', 'wed', 'thu', 'fri'] }),
  rule('secrets/tokyo/*', ['read'], { timeOfDay: { start: '09:00', end: '17:00' }, timezone: 'Asia/Tokyo' }),
  rule('secrets/kiritimati/*', ['read'], { weekdays: ['sat'], timezone: 'Pacific/Kiritimati' }),
  rule('secrets/ny/*', ['read'], { weekdays: ['fri'], timezone: 'America/New_York' }),
  rule('secrets/temp/*', ['read'], { notAfter: '2024-06-05T12:00:00Z' }),
  rule('secrets/net/blocked', ['deny'], { sourceCidrs: ['192.168.0.0/16'] }),
  rule('secrets/host/*', ['read'], { sourceCidrs: ['10.9.9.9', '::1'] }),
);
const BROAD = policy('broad', rule('secrets/*', ['read', 'list']));
const MERGE_A = policy('merge-a', rule('secrets/merged/*', ['read'], { sourceCidrs: ['10.0.0.0/8'] }));
const MERGE_B = policy('merge-b', rule('secrets/merged/*', ['read']), rule('secrets/merged/*', ['list']));

interface Case {
  name: string;
  path: string;
  cap: RequestedCapability;
  allowed: boolean;
  policies?: readonly PolicyDocument[];
  principal?: Partial<Principal>;
  ip?: string;
  at?: string;
  /** The deciding rule, when one decides: [policy, rule index]. */
  by?: [string, number];
}

const exact: Case[] = [
  { name: 'exact match grants read', path: 'secrets/app/config', cap: 'read', allowed: true, by: ['app', 0] },
  {
    name: 'exact match beats a broader glob granting list',
    path: 'secrets/app/config',
    cap: 'list',
    allowed: false,
    by: ['app', 0],
  },
  {
    name: 'exact match beats a broader glob granting update',
    path: 'secrets/app/config',
    cap: 'update',
    allowed: false,
  },
  { name: 'exact match does not match a child', path: 'sys/policies/app/x', cap: 'read', allowed: false },
  { name: 'exact sys path read', path: 'sys/policies/app', cap: 'read', allowed: true, by: ['app', 5] },
  { name: 'exact sys path update', path: 'sys/policies/app', cap: 'update', allowed: true },
  { name: 'exact sys path delete', path: 'sys/policies/app', cap: 'delete', allowed: true },
  { name: 'exact sys path list not granted', path: 'sys/policies/app', cap: 'list', allowed: false },
  { name: 'other policy path denied', path: 'sys/policies/other', cap: 'read', allowed: false },
  { name: 'audit hash sudo', path: 'sys/audit/hash', cap: 'sudo', allowed: true, by: ['ops', 3] },
  { name: 'audit hash update', path: 'sys/audit/hash', cap: 'update', allowed: true },
  { name: 'audit hash read not granted', path: 'sys/audit/hash', cap: 'read', allowed: false },
  { name: 'token create', path: 'auth/token/create', cap: 'create', allowed: true, by: ['app', 6] },
  { name: 'token create read not granted', path: 'auth/token/create', cap: 'read', allowed: false },
  { name: 'token create child not matched', path: 'auth/token/create/x', cap: 'create', allowed: false },
  { name: 'token parent not matched', path: 'auth/token', cap: 'create', allowed: false },
  { name: 'unrelated path denied by default', path: 'secret/prod/db', cap: 'read', allowed: false },
  { name: 'bare mount not matched by its glob', path: 'secrets', cap: 'list', allowed: false },
];

const globs: Case[] = [
  { name: 'glob child read', path: 'secrets/app/other', cap: 'read', allowed: true, by: ['app', 1] },
  {
    name: 'equal globs merge across policies',
    path: 'secrets/app/other',
    cap: 'update',
    allowed: true,
    by: ['ops', 2],
  },
  { name: 'glob child list', path: 'secrets/app/other', cap: 'list', allowed: true },
  { name: 'glob child delete not granted', path: 'secrets/app/other', cap: 'delete', allowed: false },
  { name: 'glob deep descendant', path: 'secrets/app/deep/nested/x', cap: 'read', allowed: true },
  { name: "'dir/*' does not match 'dir'", path: 'secrets/app', cap: 'read', allowed: false },
  { name: "'secrets/*' lists 'secrets/app'", path: 'secrets/app', cap: 'list', allowed: true, by: ['ops', 0] },
  {
    name: "'secrets/prod*' matches 'secrets/production/x'",
    path: 'secrets/production/x',
    cap: 'list',
    allowed: true,
    by: ['app', 2],
  },
  {
    name: "'secrets/prod/*' does not match 'secrets/production/x'",
    path: 'secrets/production/x',
    cap: 'read',
    allowed: false,
  },
  {
    name: "'secrets/prod/*' beats 'secrets/prod*'",
    path: 'secrets/prod/db',
    cap: 'read',
    allowed: true,
    by: ['ops', 1],
  },
  { name: 'most specific glob lacks list', path: 'secrets/prod/db', cap: 'list', allowed: false, by: ['ops', 1] },
  { name: "'secrets/prod*' matches 'secrets/prod'", path: 'secrets/prod', cap: 'list', allowed: true, by: ['app', 2] },
  { name: "'secrets/prod*' on 'secrets/prod' lacks read", path: 'secrets/prod', cap: 'read', allowed: false },
  {
    name: "'secrets/prod*' matches 'secrets/prodx'",
    path: 'secrets/prodx',
    cap: 'list',
    allowed: true,
    by: ['app', 2],
  },
  { name: "'secrets/*' covers 'secrets/pro'", path: 'secrets/pro', cap: 'list', allowed: true, by: ['ops', 0] },
  { name: "'secrets/*' does not grant read", path: 'secrets/pro', cap: 'read', allowed: false },
  { name: 'later wildcard wins over + segment', path: 'secrets/prod/db', cap: 'update', allowed: true, by: ['ops', 1] },
  { name: 'glob grants create', path: 'secrets/prod/new', cap: 'create', allowed: true },
  { name: 'glob grants rotate', path: 'secrets/prod/x/leaf', cap: 'rotate', allowed: true, by: ['ops', 1] },
];

const plus: Case[] = [
  { name: '+ matches one segment', path: 'secrets/foo/db', cap: 'read', allowed: true, by: ['app', 3] },
  { name: '+ does not match two segments', path: 'secrets/foo/bar/db', cap: 'read', allowed: false },
  { name: '+ does not match zero segments', path: 'secrets/db', cap: 'read', allowed: false },
  { name: '+ does not match an empty segment', path: 'secrets//db', cap: 'read', allowed: false },
  { name: '+ then glob', path: 'secrets/team/x/creds/a', cap: 'read', allowed: true, by: ['app', 4] },
  { name: '+ then glob needs a child', path: 'secrets/team/x/creds', cap: 'read', allowed: false },
  { name: '+ then glob rejects extra segment before', path: 'secrets/team/x/y/creds/a', cap: 'read', allowed: false },
  { name: '+ then glob deep', path: 'secrets/team/x/creds/a/b/c', cap: 'read', allowed: true },
  { name: 'two + segments', path: 'secrets/a/b/leaf', cap: 'rotate', allowed: true, by: ['app', 7] },
  { name: 'two + segments need two', path: 'secrets/a/leaf', cap: 'rotate', allowed: false },
  { name: 'two + segments and no more', path: 'secrets/a/b/c/leaf', cap: 'rotate', allowed: false },
];

const denies: Case[] = [
  {
    name: 'deny wins over a glob allow (read)',
    path: 'secrets/prod/root-creds',
    cap: 'read',
    allowed: false,
    by: ['lockdown', 0],
  },
  { name: 'deny wins (update)', path: 'secrets/prod/root-creds', cap: 'update', allowed: false, by: ['lockdown', 0] },
  { name: 'deny wins (delete)', path: 'secrets/prod/root-creds', cap: 'delete', allowed: false },
  { name: 'deny wins (rotate)', path: 'secrets/prod/root-creds', cap: 'rotate', allowed: false },
  { name: 'deny wins (create)', path: 'secrets/prod/root-creds', cap: 'create', allowed: false },
  {
    name: 'exact deny does not cover a sibling',
    path: 'secrets/prod/root-creds-old',
    cap: 'read',
    allowed: true,
    by: ['ops', 1],
  },
  {
    name: 'deny glob wins over a more specific allow',
    path: 'secrets/legacy/keep',
    cap: 'read',
    allowed: false,
    by: ['lockdown', 1],
  },
  { name: "deny glob 'x/*' does not cover 'x'", path: 'secrets/legacy', cap: 'list', allowed: true, by: ['ops', 0] },
  {
    name: 'deny wins over root',
    path: 'secrets/prod/root-creds',
    cap: 'read',
    allowed: false,
    policies: [ROOT_POLICY, LOCKDOWN],
    by: ['lockdown', 0],
  },
];

const cases = (...paths: string[]): Case[] =>
  paths.map((path) => ({
    name: `non-canonical ${JSON.stringify(path.length > 40 ? `${path.slice(0, 40)}…` : path)}`,
    path,
    cap: 'read',
    allowed: false,
    policies: [ROOT_POLICY],
  }));

const nonCanonical: Case[] = cases(
  'secrets/app/../prod/root-creds',
  'secrets/app/./config',
  '../secrets/app/x',
  './secrets/app/x',
  'secrets/app/..',
  'secrets/app/.',
  '.',
  '..',
  '/secrets/app/config',
  'secrets/app/config/',
  'secrets//app/config',
  '/',
  '//',
  '',
  'secrets%2Fprod%2Fdb',
  'secrets/app/%2e%2e/prod',
  'secrets/app/%2E%2E/prod',
  'secrets/app/%252e%252e/prod',
  'secrets%252Fprod%252Fdb',
  'secrets\\prod\\db',
  'secrets/app\\..\\prod',
  'secrets/app/config ',
  ' secrets/app/config',
  'secrets/ app/config',
  'secrets/app/con\tfig',
  'secrets/app/config\n',
  'secrets/app/config\r',
  'secrets/app/config\0',
  'secrets/app/config\x7f',
  'secrets/app/\u00a0config',
  'secrets/app/config\u200b',
  'secrets/app/\u202econfig',
  'secrets/app/\ufeffconfig',
  'secrets/app/config\u3000',
  'secrets/app/config\u2028',
  'secrets/app/\ud800',
  `secrets/${'x'.repeat(1017)}`,
  `secrets/${'a/'.repeat(600)}x`,
);

const lookAlikes: Case[] = [
  { name: 'upper-case mount', path: 'Secrets/app/config', cap: 'read', allowed: false },
  { name: 'all upper case', path: 'SECRETS/APP/CONFIG', cap: 'read', allowed: false },
  { name: 'upper-case segment', path: 'secrets/App/config', cap: 'read', allowed: false },
  { name: 'upper-case sys', path: 'Sys/policies/app', cap: 'read', allowed: false },
  { name: 'Cyrillic s look-alike', path: '\u0455ecrets/prod/db', cap: 'read', allowed: false },
  { name: 'Cyrillic a look-alike', path: 'sys/policies/\u0430pp', cap: 'read', allowed: false },
  { name: 'division slash is not a separator', path: 'secrets\u2215prod\u2215db', cap: 'read', allowed: false },
  { name: 'fullwidth solidus is not a separator', path: 'secrets\uff0fprod\uff0fdb', cap: 'read', allowed: false },
  { name: 'fullwidth letters', path: '\uff53ecrets/prod/db', cap: 'read', allowed: false },
  {
    name: 'longest canonical path is accepted',
    path: `secrets/app/${'x'.repeat(1012)}`,
    cap: 'read',
    allowed: true,
    by: ['app', 1],
  },
];

const hostile = (name: string, principal: Partial<Principal>, path: string, allowed = false): Case => ({
  name: `templated: ${name}`,
  path,
  cap: 'read',
  allowed,
  policies: [TEMPLATED],
  principal,
});

const templated: Case[] = [
  hostile('own id', {}, 'secrets/users/acc-123/x', true),
  hostile('own id needs a child', {}, 'secrets/users/acc-123', false),
  hostile('other id', {}, 'secrets/users/acc-124/x'),
  hostile('id is case-sensitive', {}, 'secrets/users/ACC-123/x'),
  hostile('own team metadata', {}, 'secrets/teams/payments/x', true),
  hostile('other team', {}, 'secrets/teams/other/x'),
  hostile('own display name', {}, 'secrets/names/alice', true),
  hostile('display name is exact', {}, 'secrets/names/alice/x'),
  hostile('several templates in one segment', {}, 'secrets/mixed/team-payments-acc-123', true),
  hostile('id ../x', { id: '../x' }, 'secrets/x/y'),
  hostile('id ../x (traversal path)', { id: '../x' }, 'secrets/users/../x/y'),
  hostile('id * is not a glob', { id: '*' }, 'secrets/users/bob/x'),
  hostile('id * literal path', { id: '*' }, 'secrets/users/*/x'),
  hostile('id + is not a wildcard', { id: '+' }, 'secrets/users/bob/x'),
  hostile('id + only matches literally', { id: '+' }, 'secrets/users/+/x', true),
  hostile('empty id', { id: '' }, 'secrets/users/x'),
  hostile('id with slash', { id: 'a/b' }, 'secrets/users/a/b/x'),
  hostile('id ..', { id: '..' }, 'secrets/x'),
  hostile('id .', { id: '.' }, 'secrets/users/x'),
  hostile('id in a prefix glob', {}, 'secrets/prefix/acc-123-extra', true),
  hostile('id .. in a prefix glob', { id: '..' }, 'secrets/prefix/..x'),
  hostile('id with %', { id: '%2e%2e' }, 'secrets/users/x'),
  hostile('display name with space', { displayName: 'alice smith' }, 'secrets/names/alice'),
  hostile('display name with NUL', { displayName: 'alice\0' }, 'secrets/names/alice'),
  hostile('missing metadata', { metadata: {} }, 'secrets/teams/payments/x'),
  hostile('metadata with separator', { metadata: { team: 'payments/x' } }, 'secrets/teams/payments/x/y'),
  hostile('inherited metadata key', { metadata: Object.create({ team: 'payments' }) }, 'secrets/teams/payments/x'),
];

const everyCapability: Case[] = REQUESTABLE.flatMap((cap): Case[] => [
  {
    name: `grants ${cap} when listed`,
    path: 'secrets/caps/x',
    cap,
    allowed: true,
    policies: [policy('caps', rule('secrets/caps/*', [cap]))],
    by: ['caps', 0],
  },
  {
    name: `withholds ${cap} when not listed`,
    path: 'secrets/caps/x',
    cap,
    allowed: false,
    policies: [
      policy(
        'caps',
        rule(
          'secrets/caps/*',
          REQUESTABLE.filter((other) => other !== cap),
        ),
      ),
    ],
    by: ['caps', 0],
  },
  {
    name: `root grants ${cap}`,
    path: 'sys/policies/root',
    cap,
    allowed: true,
    policies: [ROOT_POLICY],
    by: ['root', 0],
  },
]);

const at = (iso: string) => iso;
const cond = (c: Omit<Case, 'policies'> & { policies?: readonly PolicyDocument[] }): Case => ({
  policies: [CONDITIONAL],
  ...c,
});

const conditions: Case[] = [
  cond({ name: 'inside time window', path: 'secrets/office/a', cap: 'read', allowed: true, by: ['conditional', 0] }),
  cond({
    name: 'window start is inclusive',
    path: 'secrets/office/a',
    cap: 'read',
    allowed: true,
    at: at('2024-06-05T09:00:00Z'),
  }),
  cond({
    name: 'just before window',
    path: 'secrets/office/a',
    cap: 'read',
    allowed: false,
    at: at('2024-06-05T08:59:59Z'),
  }),
  cond({
    name: 'last minute of window',
    path: 'secrets/office/a',
    cap: 'read',
    allowed: true,
    at: at('2024-06-05T16:59:59Z'),
  }),
  cond({
    name: 'window end is exclusive',
    path: 'secrets/office/a',
    cap: 'read',
    allowed: false,
    at: at('2024-06-05T17:00:00Z'),
  }),
  cond({
    name: 'wrapping window late',
    path: 'secrets/night/a',
    cap: 'read',
    allowed: true,
    at: at('2024-06-05T23:00:00Z'),
  }),
  cond({
    name: 'wrapping window start',
    path: 'secrets/night/a',
    cap: 'read',
    allowed: true,
    at: at('2024-06-05T22:00:00Z'),
  }),
  cond({
    name: 'wrapping window after midnight',
    path: 'secrets/night/a',
    cap: 'read',
    allowed: true,
    at: at('2024-06-06T02:00:00Z'),
  }),
  cond({
    name: 'wrapping window end exclusive',
    path: 'secrets/night/a',
    cap: 'read',
    allowed: false,
    at: at('2024-06-06T06:00:00Z'),
  }),
  cond({ name: 'wrapping window at noon', path: 'secrets/night/a', cap: 'read', allowed: false }),
  cond({
    name: 'wrapping window just before',
    path: 'secrets/night/a',
    cap: 'read',
    allowed: false,
    at: at('2024-06-05T21:59:00Z'),
  }),
  cond({ name: 'IPv4 source in CIDR', path: 'secrets/net/a', cap: 'read', allowed: true, ip: '10.1.2.3' }),
  cond({ name: 'IPv4 source outside CIDR', path: 'secrets/net/a', cap: 'read', allowed: false, ip: '11.0.0.1' }),
  cond({
    name: 'IPv4-mapped source in CIDR',
    path: 'secrets/net/a',
    cap: 'read',
    allowed: true,
    ip: '::ffff:10.1.2.3',
  }),
  cond({
    name: 'IPv4-mapped hex source in CIDR',
    path: 'secrets/net/a',
    cap: 'read',
    allowed: true,
    ip: '::ffff:a01:203',
  }),
  cond({
    name: 'IPv4-mapped source outside',
    path: 'secrets/net/a',
    cap: 'read',
    allowed: false,
    ip: '::ffff:11.0.0.1',
  }),
  cond({ name: 'IPv6 source in CIDR', path: 'secrets/net/a', cap: 'read', allowed: true, ip: '2001:db8::1' }),
  cond({ name: 'IPv6 source outside CIDR', path: 'secrets/net/a', cap: 'read', allowed: false, ip: '2001:db9::1' }),
  cond({ name: 'garbage source', path: 'secrets/net/a', cap: 'read', allowed: false, ip: 'not-an-ip' }),
  cond({ name: 'empty source', path: 'secrets/net/a', cap: 'read', allowed: false, ip: '' }),
  cond({ name: 'bare host address matches', path: 'secrets/host/a', cap: 'read', allowed: true, ip: '10.9.9.9' }),
  cond({ name: 'bare host address is exact', path: 'secrets/host/a', cap: 'read', allowed: false, ip: '10.9.9.8' }),
  cond({ name: 'bare IPv6 host matches', path: 'secrets/host/a', cap: 'read', allowed: true, ip: '::1' }),
  cond({
    name: 'conditional deny applies',
    path: 'secrets/net/blocked',
    cap: 'read',
    allowed: false,
    ip: '192.168.1.1',
  }),
  cond({
    name: 'conditional deny is inert when unmet',
    path: 'secrets/net/blocked',
    cap: 'read',
    allowed: true,
    ip: '10.1.2.3',
    by: ['conditional', 2],
  }),
  cond({ name: 'weekday matches (Wednesday)', path: 'secrets/weekday/a', cap: 'read', allowed: true }),
  cond({
    name: 'weekday fails (Saturday)',
    path: 'secrets/weekday/a',
    cap: 'read',
    allowed: false,
    at: at('2024-06-08T12:00:00Z'),
  }),
  cond({
    name: 'weekday fails (Sunday)',
    path: 'secrets/weekday/a',
    cap: 'read',
    allowed: false,
    at: at('2024-06-09T12:00:00Z'),
  }),
  cond({ name: 'time zone: 21:00 in Tokyo', path: 'secrets/tokyo/a', cap: 'read', allowed: false }),
  cond({
    name: 'time zone: 10:00 in Tokyo',
    path: 'secrets/tokyo/a',
    cap: 'read',
    allowed: true,
    at: at('2024-06-05T01:00:00Z'),
  }),
  cond({
    name: 'weekday in UTC+14 is already Saturday',
    path: 'secrets/kiritimati/a',
    cap: 'read',
    allowed: true,
    at: at('2024-06-07T12:00:00Z'),
  }),
  cond({ name: 'weekday in UTC+14 on Wednesday', path: 'secrets/kiritimati/a', cap: 'read', allowed: false }),
  cond({
    name: 'weekday in New York is still Friday',
    path: 'secrets/ny/a',
    cap: 'read',
    allowed: true,
    at: at('2024-06-08T02:00:00Z'),
  }),
  cond({
    name: 'weekday in New York on Saturday',
    path: 'secrets/ny/a',
    cap: 'read',
    allowed: false,
    at: at('2024-06-08T12:00:00Z'),
  }),
  cond({
    name: 'grant before expiry',
    path: 'secrets/temp/a',
    cap: 'read',
    allowed: true,
    at: at('2024-06-05T11:59:59.999Z'),
  }),
  cond({ name: 'grant expires at the instant', path: 'secrets/temp/a', cap: 'read', allowed: false }),
  cond({
    name: 'grant after expiry',
    path: 'secrets/temp/a',
    cap: 'read',
    allowed: false,
    at: at('2025-01-01T00:00:00Z'),
  }),
  cond({
    name: 'broader rule does not rescue an unmet specific rule',
    path: 'secrets/office/a',
    cap: 'read',
    allowed: false,
    at: at('2024-06-05T20:00:00Z'),
    policies: [BROAD, CONDITIONAL],
    by: ['conditional', 0],
  }),
  cond({
    name: 'broader rule still serves other paths',
    path: 'secrets/elsewhere',
    cap: 'read',
    allowed: true,
    policies: [BROAD, CONDITIONAL],
    by: ['broad', 0],
  }),
  cond({
    name: 'merged equal patterns: an unconditional grant covers a failed condition',
    path: 'secrets/merged/a',
    cap: 'read',
    allowed: true,
    ip: '11.0.0.1',
    policies: [MERGE_A, MERGE_B],
    by: ['merge-b', 0],
  }),
  cond({
    name: 'merged equal patterns: union within one policy',
    path: 'secrets/merged/a',
    cap: 'list',
    allowed: true,
    policies: [MERGE_A, MERGE_B],
    by: ['merge-b', 1],
  }),
  cond({
    name: 'merged equal patterns: met condition grants',
    path: 'secrets/merged/a',
    cap: 'read',
    allowed: true,
    ip: '10.0.0.1',
    policies: [MERGE_A],
    by: ['merge-a', 0],
  }),
  cond({
    name: 'failed condition withholds the grant',
    path: 'secrets/merged/a',
    cap: 'read',
    allowed: false,
    ip: '11.0.0.1',
    policies: [MERGE_A],
    by: ['merge-a', 0],
  }),
];

const TABLE: Case[] = [
  ...exact,
  ...globs,
  ...plus,
  ...denies,
  ...nonCanonical,
  ...lookAlikes,
  ...templated,
  ...everyCapability,
  ...conditions,
];

describe('Function: evaluate', () => {
  it('has a large table of cases with unique names', () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(120);
    expect(new Set(TABLE.map((c) => c.name)).size).toBe(TABLE.length);
  });

  it.each(TABLE)('$name → allowed=$allowed', (c) => {
    const decision = evaluate(
      c.policies ?? STANDARD,
      request(c.path, c.cap, {
        ...(c.principal && { principal: c.principal }),
        ...(c.ip !== undefined && { sourceIp: c.ip }),
        ...(c.at !== undefined && { now: Date.parse(c.at) }),
      }),
    );
    expect(decision.allowed, decision.reason).toBe(c.allowed);
    if (c.allowed) expect(decision.decidedBy).toBeDefined();
    if (c.by !== undefined) {
      expect(decision.decidedBy).toMatchObject({ policy: c.by[0], rule: c.by[1] });
    }
  });
});

describe('Function: evaluate (reasons)', () => {
  it('names the granting rule', () => {
    const decision = evaluate(STANDARD, request('secrets/prod/db', 'read'));
    expect(decision.decidedBy).toEqual({ policy: 'ops', rule: 1, path: 'secrets/prod/*' });
    expect(decision.reason).toBe('policy "ops" rules[1] ("secrets/prod/*") grants read on "secrets/prod/db"');
  });

  it('names the deny rule that vetoed', () => {
    const decision = evaluate(STANDARD, request('secrets/prod/root-creds', 'read'));
    expect(decision.decidedBy).toEqual({ policy: 'lockdown', rule: 0, path: 'secrets/prod/root-creds' });
    expect(decision.reason).toContain('denies read');
    expect(decision.reason).toContain('policy "lockdown" rules[0]');
  });

  it('says no rule grants when no rule matches', () => {
    const decision = evaluate(STANDARD, request('kv/x', 'read'));
    expect(decision.decidedBy).toBeUndefined();
    expect(decision.reason).toBe('no rule grants read on "kv/x"');
  });

  it('names the most specific rule when it lacks the capability', () => {
    const decision = evaluate(STANDARD, request('secrets/app/config', 'list'));
    expect(decision.reason).toBe(
      'most specific match policy "app" rules[0] ("secrets/app/config") does not grant list on "secrets/app/config"',
    );
  });

  it('names the rule and the key of the failed time condition, not its window', () => {
    const decision = evaluate(
      [CONDITIONAL],
      request('secrets/office/a', 'read', { now: Date.parse('2024-06-05T20:00:00Z') }),
    );
    expect(decision.reason).toBe(
      'policy "conditional" rules[0] ("secrets/office/*") grants read but its condition timeOfDay (the request must ' +
        "fall within its daily time window) did not hold: this request's time is outside it",
    );
    expect(decision.decidedBy).toEqual({ policy: 'conditional', rule: 0, path: 'secrets/office/*' });
  });

  it("names the failed source condition and the request's own address, not the rule's CIDRs", () => {
    const decision = evaluate([CONDITIONAL], request('secrets/net/a', 'read', { sourceIp: '11.0.0.1' }));
    expect(decision.reason).toContain(
      "its condition sourceCidrs (the source address must be in one of its CIDRs) did not hold: this request's " +
        'source address 11.0.0.1 is in none of them',
    );
    expect(decision.reason).not.toContain('10.0.0.0/8');
    expect(decision.reason).not.toContain('2001:db8');
  });

  it('says the grant expired, not when', () => {
    const decision = evaluate([CONDITIONAL], request('secrets/temp/a', 'read'));
    expect(decision.reason).toContain('its condition notAfter (the request must come before the grant expires)');
    expect(decision.reason).toContain('the grant has expired');
    expect(decision.reason).not.toContain('2024-06-05');
  });

  it('names the failed weekday condition, not its days or zone', () => {
    const decision = evaluate([CONDITIONAL], request('secrets/tokyo/a', 'read'));
    expect(decision.reason).toContain('its condition timeOfDay');
    expect(decision.reason).not.toMatch(/Asia|Tokyo|09:00/);
    const weekday = evaluate(
      [CONDITIONAL],
      request('secrets/weekday/a', 'read', { now: Date.parse('2024-06-08T12:00:00Z') }),
    );
    expect(weekday.reason).toContain(
      "its condition weekdays (the request must fall on one of its days) did not hold: this request's day is not one",
    );
    expect(weekday.reason).not.toMatch(/mon|fri|UTC/);
  });

  it('keeps the rule values of a failed condition in the considered rules, for readers of the policy', () => {
    const at = (now: string, path: string, sourceIp = '10.1.1.1') =>
      evaluate([CONDITIONAL], request(path, 'read', { now: Date.parse(now), sourceIp })).considered.find(
        (rule) => rule.matched && !rule.conditionsMet,
      )?.unmetCondition;
    expect(at('2024-06-05T20:00:00Z', 'secrets/office/a')).toBe('timeOfDay 09:00-17:00 UTC not met');
    expect(at('2024-06-05T12:00:00Z', 'secrets/net/a', '11.0.0.1')).toBe(
      'source 11.0.0.1 not in [10.0.0.0/8, 2001:db8::/32]',
    );
    expect(at('2024-06-07T12:00:00Z', 'secrets/temp/a')).toBe('grant expired at 2024-06-05T12:00:00.000Z');
    expect(at('2024-06-08T12:00:00Z', 'secrets/weekday/a')).toBe(
      'weekdays [mon, tue, wed, thu, fri] UTC not met (it is sat)',
    );
  });

  it('names the condition that failed when another of the rule holds', () => {
    const both: PolicyDocument = {
      name: 'both',
      rules: [
        {
          path: 'secrets/both/*',
          capabilities: ['read'],
          conditions: { notAfter: '2030-01-01T00:00:00Z', sourceCidrs: ['192.0.2.0/24'] },
        },
      ],
    };
    const decision = evaluate([both], request('secrets/both/a', 'read', { sourceIp: '198.51.100.7' }));
    expect(decision.reason).toBe(
      'policy "both" rules[0] ("secrets/both/*") grants read but its condition sourceCidrs (the source address must ' +
        "be in one of its CIDRs) did not hold: this request's source address 198.51.100.7 is in none of them",
    );
  });

  it('explains why a path is not canonical', () => {
    const decision = evaluate([ROOT_POLICY], request('secrets/../sys', 'read'));
    expect(decision.reason).toBe(`"secrets/../sys" is not a canonical path: path has a '.' or '..' segment`);
    expect(decision.considered).toEqual([]);
  });

  it('shows the resolved form of a templated pattern', () => {
    const decision = evaluate([TEMPLATED], request('secrets/users/acc-123/x', 'read'));
    expect(decision.reason).toContain('("secrets/users/{{principal.id}}/*" as "secrets/users/acc-123/*")');
  });

  it('records every rule it considered', () => {
    const decision = evaluate([MERGE_A, BROAD], request('secrets/merged/a', 'read', { sourceIp: '11.0.0.1' }));
    expect(decision.considered).toEqual([
      {
        policy: 'merge-a',
        rule: 0,
        path: 'secrets/merged/*',
        matched: true,
        conditionsMet: false,
        unmetCondition: 'source 11.0.0.1 not in [10.0.0.0/8]',
      },
      { policy: 'broad', rule: 0, path: 'secrets/*', matched: true, conditionsMet: true },
    ]);
    const miss = evaluate([APP], request('kv/x', 'read'));
    expect(miss.considered).toHaveLength(APP.rules.length);
    expect(miss.considered.every((c) => !c.matched)).toBe(true);
  });
});

describe('Function: evaluate (robustness)', () => {
  it('fails closed on an invalid document', () => {
    const broken = { name: 'broken', rules: [{ path: 'secrets/*/x', capabilities: ['read'] }] } as PolicyDocument;
    const decision = evaluate([ROOT_POLICY, broken], request('secrets/a', 'read'));
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toContain('policy "broken" is invalid');
  });

  it('refuses a requested deny capability', () => {
    const decision = evaluate([ROOT_POLICY], request('secrets/a', 'deny' as RequestedCapability));
    expect(decision.allowed).toBe(false);
  });

  it('denies with no policies at all', () => {
    expect(evaluate([], request('secrets/a', 'read')).allowed).toBe(false);
  });

  it('keeps ROOT_POLICY immutable', () => {
    expect(Object.isFrozen(ROOT_POLICY)).toBe(true);
    expect(Object.isFrozen(ROOT_POLICY.rules[0]!.capabilities)).toBe(true);
    expect(ROOT_POLICY.rules[0]!.capabilities).not.toContain('deny');
  });

  it('is unaffected by policy order', () => {
    const a = evaluate([APP, OPS, LOCKDOWN], request('secrets/prod/db', 'read'));
    const b = evaluate([LOCKDOWN, OPS, APP], request('secrets/prod/db', 'read'));
    expect(a.allowed).toBe(b.allowed);
    expect(a.decidedBy).toEqual(b.decidedBy);
  });

  it('uses the principal of each request for templated rules (compiled once)', () => {
    expect(evaluate([TEMPLATED], request('secrets/users/bob/x', 'read', { principal: { id: 'bob' } })).allowed).toBe(
      true,
    );
    expect(evaluate([TEMPLATED], request('secrets/users/bob/x', 'read')).allowed).toBe(false);
  });
});
