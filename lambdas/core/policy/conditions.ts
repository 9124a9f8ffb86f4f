import { BlockList, isIP, isIPv4 } from 'node:net';
import type { RequestContext } from '../principal.ts';
import { type PolicyConditions, WEEKDAYS, type Weekday } from './policy-types.ts';

/** The keys of `PolicyConditions` that a request can fail (`timezone` only qualifies the time conditions). */
export type ConditionKey = 'sourceCidrs' | 'timeOfDay' | 'weekdays' | 'notAfter' | 'regions';

/**
 * Why a request did not meet a rule's condition, in two forms. A caller who was refused is told `requirement` and
 * `observed`: which condition failed and what it tests, and facts of its own request, never the rule's values (its
 * CIDRs, window, days or expiry), which are the contents of a policy document the caller may not be allowed to read.
 * `detail` adds those values, for whoever may read the policy (`coffer policy test`).
 */
export interface UnmetCondition {
  readonly key: ConditionKey;
  /** The condition and the test it applies, e.g. `sourceCidrs (the source address must be in one of its CIDRs)`. */
  readonly requirement: string;
  /** What this request showed, e.g. `this request's source address 203.0.113.7 is in none of them`. */
  readonly observed: string;
  /** With the rule's values, e.g. `source 203.0.113.7 not in [10.0.0.0/8]`. */
  readonly detail: string;
}

/** A rule's conditions, compiled once per policy document. */
export interface CompiledConditions {
  /** `undefined` when every condition holds; otherwise the first one that does not. */
  unmet(context: RequestContext): UnmetCondition | undefined;
}

const REQUIREMENTS: Record<ConditionKey, string> = {
  sourceCidrs: 'sourceCidrs (the source address must be in one of its CIDRs)',
  timeOfDay: 'timeOfDay (the request must fall within its daily time window)',
  weekdays: 'weekdays (the request must fall on one of its days)',
  notAfter: 'notAfter (the request must come before the grant expires)',
  regions: 'regions (the request must act in one of its regions)',
};

function unmetCondition(key: ConditionKey, observed: string, detail: string): UnmetCondition {
  return { key, requirement: REQUIREMENTS[key], observed, detail };
}

type Check = (context: RequestContext) => UnmetCondition | undefined;

export const DEFAULT_TIMEZONE = 'UTC';

const CLOCK = /^([01]\d|2[0-3]):([0-5]\d)$/;
const PREFIX_LENGTH = /^\d{1,3}$/;
const formatters = new Map<string, Intl.DateTimeFormat>();

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/**
 * Parses `address/prefix`; a bare address means that single host.
 * @example parseCidr('10.0.0.0/8') // { address: '10.0.0.0', prefix: 8, family: 'ipv4' }
 */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(max) : text.slice(slash + 1);
  if (!PREFIX_LENGTH.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** Minutes since midnight for `HH:MM`, or `undefined`. */
export function parseClockTime(text: string): number | undefined {
  const match = CLOCK.exec(text);
  return match === null ? undefined : Number(match[1]) * 60 + Number(match[2]);
}

/** True if `Intl` knows the IANA time zone. */
export function isKnownTimeZone(timeZone: string): boolean {
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/**
 * Compiles validated conditions. Invalid input (which the schema rejects first) compiles to a condition that never
 * holds, so a bad document can only take access away.
 */
export function compileConditions(conditions: PolicyConditions): CompiledConditions {
  const checks: Check[] = [];
  if (conditions.notAfter !== undefined) checks.push(expiryCheck(conditions.notAfter));
  if (conditions.sourceCidrs !== undefined) checks.push(sourceCheck(conditions.sourceCidrs));
  if (conditions.regions !== undefined) checks.push(regionCheck(conditions.regions));
  const timeZone = conditions.timezone ?? DEFAULT_TIMEZONE;
  if (conditions.weekdays !== undefined) checks.push(weekdayCheck(conditions.weekdays, timeZone));
  if (conditions.timeOfDay !== undefined) checks.push(timeOfDayCheck(conditions.timeOfDay, timeZone));
  return {
    unmet(context) {
      for (const check of checks) {
        const problem = check(context);
        if (problem !== undefined) return problem;
      }
      return undefined;
    },
  };
}

function expiryCheck(notAfter: string): Check {
  const expiresAt = Date.parse(notAfter);
  if (Number.isNaN(expiresAt)) {
    const invalid = unmetCondition(
      'notAfter',
      'its instant is not valid',
      `notAfter ${JSON.stringify(notAfter)} is not a valid instant`,
    );
    return () => invalid;
  }
  const expired = unmetCondition(
    'notAfter',
    'the grant has expired',
    `grant expired at ${new Date(expiresAt).toISOString()}`,
  );
  return (context) => (context.now < expiresAt ? undefined : expired);
}

/** The request's region must be one of `regions`; a request that names none (before authentication) meets none. */
function regionCheck(regions: readonly string[]): Check {
  const allowed = new Set(regions);
  const shown = `[${regions.join(', ')}]`;
  return (context) => {
    if (context.region !== undefined && allowed.has(context.region)) return undefined;
    const observed = context.region ?? 'no region';
    return unmetCondition(
      'regions',
      `this request's region ${observed} is none of them`,
      `region ${observed} not in ${shown}`,
    );
  };
}

function sourceCheck(cidrs: readonly string[]): Check {
  const list = new BlockList();
  let valid = true;
  for (const text of cidrs) {
    const cidr = parseCidr(text);
    if (cidr === undefined) valid = false;
    else list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  const shown = `[${cidrs.join(', ')}]`;
  return (context) => {
    const ip = context.sourceIp;
    if (!valid)
      return unmetCondition('sourceCidrs', 'it holds an invalid CIDR', `sourceCidrs ${shown} holds an invalid CIDR`);
    const version = isIP(ip);
    if (version === 0) {
      // Not an address at all (a transport that could not tell): nothing worth echoing.
      return unmetCondition(
        'sourceCidrs',
        "this request's source is not an IP address",
        `source ${JSON.stringify(ip)} is not an IP address`,
      );
    }
    if (inList(list, ip, version)) return undefined;
    return unmetCondition(
      'sourceCidrs',
      `this request's source address ${ip} is in none of them`,
      `source ${ip} not in ${shown}`,
    );
  };
}

function inList(list: BlockList, ip: string, version: number): boolean {
  if (version === 4) return list.check(ip, 'ipv4');
  // '::ffff:1.2.3.4' is an IPv4 client seen through a dual-stack socket: it must meet IPv4 rules.
  const lower = ip.toLowerCase();
  if (lower.startsWith('::ffff:') && isIPv4(lower.slice(7)) && list.check(lower.slice(7), 'ipv4')) return true;
  return list.check(ip, 'ipv6');
}

function weekdayCheck(weekdays: readonly Weekday[], timeZone: string): Check {
  const allowed = new Set(weekdays);
  const shown = `weekdays [${weekdays.join(', ')}] ${timeZone}`;
  return (context) => {
    const local = localTime(context.now, timeZone);
    if (local === undefined) return unknownZone('weekdays', timeZone);
    if (allowed.has(local.weekday)) return undefined;
    return unmetCondition(
      'weekdays',
      "this request's day is not one of them",
      `${shown} not met (it is ${local.weekday})`,
    );
  };
}

function timeOfDayCheck(window: { start: string; end: string }, timeZone: string): Check {
  const start = parseClockTime(window.start);
  const end = parseClockTime(window.end);
  const shown = `timeOfDay ${window.start}-${window.end} ${timeZone} not met`;
  const outside = unmetCondition('timeOfDay', "this request's time is outside it", shown);
  return (context) => {
    if (start === undefined || end === undefined) return outside;
    const local = localTime(context.now, timeZone);
    if (local === undefined) return unknownZone('timeOfDay', timeZone);
    const minute = local.minute;
    // A window whose end is before its start wraps midnight (22:00-06:00).
    const inside = start < end ? minute >= start && minute < end : minute >= start || minute < end;
    return inside ? undefined : outside;
  };
}

function unknownZone(key: ConditionKey, timeZone: string): UnmetCondition {
  return unmetCondition(
    key,
    'its time zone is unknown to this server',
    `unknown time zone ${JSON.stringify(timeZone)}`,
  );
}

interface LocalTime {
  readonly weekday: Weekday;
  /** Minutes since local midnight. */
  readonly minute: number;
}

/** Sunday-first, as `Date#getUTCDay` counts. */
const BY_UTC_DAY: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function localTime(now: number, timeZone: string): LocalTime | undefined {
  if (timeZone === 'UTC') {
    const date = new Date(now);
    return { weekday: BY_UTC_DAY[date.getUTCDay()]!, minute: date.getUTCHours() * 60 + date.getUTCMinutes() };
  }
  let formatter: Intl.DateTimeFormat;
  try {
    formatter = formatterFor(timeZone);
  } catch {
    return undefined;
  }
  let weekday: Weekday | undefined;
  let hour = 0;
  let minute = 0;
  for (const part of formatter.formatToParts(now)) {
    if (part.type === 'weekday') weekday = WEEKDAYS.find((day) => day === part.value.toLowerCase());
    else if (part.type === 'hour') hour = Number(part.value) % 24;
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return weekday === undefined ? undefined : { weekday, minute: hour * 60 + minute };
}

/** Building a DateTimeFormat is costly, and there are few zones in use: keep one per zone. */
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}
