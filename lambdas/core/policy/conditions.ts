import { BlockList, isIP, isIPv4 } from 'node:net';
import type { RequestContext } from '../principal.ts';
import { type PolicyConditions, WEEKDAYS, type Weekday } from './policy-types.ts';

/** A rule's conditions, compiled once per policy document. */
export interface CompiledConditions {
  /** `undefined` when every condition holds; otherwise a human-readable description of the first one that does not. */
  unmet(context: RequestContext): string | undefined;
}

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
  const checks: Array<(context: RequestContext) => string | undefined> = [];
  if (conditions.notAfter !== undefined) checks.push(expiryCheck(conditions.notAfter));
  if (conditions.sourceCidrs !== undefined) checks.push(sourceCheck(conditions.sourceCidrs));
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

function expiryCheck(notAfter: string): (context: RequestContext) => string | undefined {
  const expiresAt = Date.parse(notAfter);
  if (Number.isNaN(expiresAt)) return () => `notAfter ${JSON.stringify(notAfter)} is not a valid instant`;
  const shown = new Date(expiresAt).toISOString();
  return (context) => (context.now < expiresAt ? undefined : `grant expired at ${shown}`);
}

function sourceCheck(cidrs: readonly string[]): (context: RequestContext) => string | undefined {
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
    if (!valid) return `sourceCidrs ${shown} holds an invalid CIDR`;
    const version = isIP(ip);
    if (version === 0) return `source ${JSON.stringify(ip)} is not an IP address`;
    return inList(list, ip, version) ? undefined : `source ${ip} not in ${shown}`;
  };
}

function inList(list: BlockList, ip: string, version: number): boolean {
  if (version === 4) return list.check(ip, 'ipv4');
  // '::ffff:1.2.3.4' is an IPv4 client seen through a dual-stack socket: it must meet IPv4 rules.
  const lower = ip.toLowerCase();
  if (lower.startsWith('::ffff:') && isIPv4(lower.slice(7)) && list.check(lower.slice(7), 'ipv4')) return true;
  return list.check(ip, 'ipv6');
}

function weekdayCheck(weekdays: readonly Weekday[], timeZone: string): (context: RequestContext) => string | undefined {
  const allowed = new Set(weekdays);
  const shown = `weekdays [${weekdays.join(', ')}] ${timeZone}`;
  return (context) => {
    const local = localTime(context.now, timeZone);
    if (local === undefined) return `unknown time zone ${JSON.stringify(timeZone)}`;
    return allowed.has(local.weekday) ? undefined : `${shown} not met (it is ${local.weekday})`;
  };
}

function timeOfDayCheck(
  window: { start: string; end: string },
  timeZone: string,
): (context: RequestContext) => string | undefined {
  const start = parseClockTime(window.start);
  const end = parseClockTime(window.end);
  const shown = `timeOfDay ${window.start}-${window.end} ${timeZone} not met`;
  return (context) => {
    if (start === undefined || end === undefined) return shown;
    const local = localTime(context.now, timeZone);
    if (local === undefined) return `unknown time zone ${JSON.stringify(timeZone)}`;
    const minute = local.minute;
    // A window whose end is before its start wraps midnight (22:00-06:00).
    const inside = start < end ? minute >= start && minute < end : minute >= start || minute < end;
    return inside ? undefined : shown;
  };
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
