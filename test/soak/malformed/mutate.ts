import type { Rng } from './prng.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Names a mutated string may take: traversal, encodings, case and Unicode lookalikes of what the fixtures planted. */
export const HOSTILE_NAMES = [
  '',
  '.',
  '..',
  '../canary/db',
  'fuzz/../canary/db',
  'fuzz/%2e%2e/canary/db',
  'fuzz%2F..%2Fcanary%2Fdb',
  'fuzz/..%2fcanary/db',
  'canary/db',
  'CANARY/DB',
  'canary//db',
  'canary/db/',
  '/canary/db',
  'canary/./db',
  'canary\\db',
  'canary/db\u0000',
  'canary/db%00',
  '\uff43anary/db',
  'cana\u200bry/db',
  'canary/d\u0301b',
  'arn:aws:secretsmanager:us-east-1:000000000000:secret:canary/db',
  'arn:aws:secretsmanager:us-east-1:000000000000:secret:canary/db-AbCdEf',
  'arn:aws:secretsmanager:us-east-1:000000000000:secret:fuzz/../canary/db',
  '*',
  '%',
  '%%',
  '%zz',
  `\${jndi:ldap://x}`,
  "' OR 1=1 --",
  '<script>',
  '\u202egnp.exe',
  '\ud800',
  '\udfff\ud800',
  'a'.repeat(513),
  'a'.repeat(2049),
];

const UNICODE_BITS = [
  '\u0000',
  '\u0001',
  '\u001f',
  '\u007f',
  '\u200b',
  '\u202e',
  '\ufeff',
  '\ud800',
  '\udc00',
  '\u{1f600}',
  '\u0301',
  '\uffff',
  '\u2028',
];

/** Numbers JSON can spell that no field wants: out of every range, fractional, negative zero, beyond 2^53. */
const RAW_NUMBERS = [
  '1e400',
  '-1e400',
  '9007199254740993',
  '-0',
  '1.5',
  '-1',
  '4294967296',
  '1e-400',
  '0.0000001',
  '123456789012345678901234567890',
];

/** Text that is not JSON at all, or JSON's edge. */
const NOT_JSON = [
  '',
  ' ',
  'null',
  'true',
  '0',
  '""',
  '[]',
  '{}',
  '{',
  '}',
  '{"',
  '{"a":}',
  '{,}',
  "{'a':1}",
  '{"a":1,}',
  '[1,]',
  'NaN',
  'Infinity',
  '0x10',
  'a=1&b=2',
  '<xml/>',
  '\ufeff{}',
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
];

const KINDS = [
  'drop',
  'duplicate',
  'typeSwap',
  'overlong',
  'nul',
  'unicode',
  'deep',
  'hostileName',
  'unknownField',
  'protoKey',
  'bigArray',
  'empty',
] as const;

function clone(value: Json): Json {
  return value === null || typeof value !== 'object' ? value : (JSON.parse(JSON.stringify(value)) as Json);
}

/** Every container in the tree (the root included), to pick where a mutation lands. */
function containers(value: Json, out: Array<Json[] | { [key: string]: Json }> = []) {
  if (value !== null && typeof value === 'object') {
    out.push(value);
    for (const child of Array.isArray(value) ? value : Object.values(value)) containers(child, out);
  }
  return out;
}

function randomScalar(rng: Rng): Json {
  switch (rng.int(7)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1, 2 ** 31, 2 ** 53, -(2 ** 53), 1.5, Number.MAX_VALUE, Number.MIN_VALUE]);
    case 3:
      return rng.text(24);
    case 4:
      return [];
    case 5:
      return {};
    default:
      return rng.pick(HOSTILE_NAMES);
  }
}

function deepValue(rng: Rng, depth: number): Json {
  let value: Json = rng.text(4);
  for (let i = 0; i < depth; i++) value = rng.chance(0.5) ? [value] : { a: value };
  return value;
}

/** Replaces one node chosen at random with `replace(old)`. */
function replaceNode(rng: Rng, root: Json, replace: (old: Json) => Json): Json {
  const all = containers(root);
  if (all.length === 0 || rng.chance(0.1)) return replace(root);
  const parent = rng.pick(all);
  if (Array.isArray(parent)) {
    if (parent.length === 0) parent.push(replace(null));
    else {
      const i = rng.int(parent.length);
      parent[i] = replace(parent[i]!);
    }
  } else {
    const keys = Object.keys(parent);
    const key = keys.length === 0 ? rng.text(8) : rng.pick(keys);
    parent[key] = replace(parent[key] ?? null);
  }
  return root;
}

function mutateTree(rng: Rng, root: Json, kind: (typeof KINDS)[number]): Json {
  switch (kind) {
    case 'drop': {
      const objects = containers(root).filter((c) => !Array.isArray(c)) as Array<{ [key: string]: Json }>;
      const target = objects.length === 0 ? undefined : rng.pick(objects);
      const keys = target === undefined ? [] : Object.keys(target);
      if (target !== undefined && keys.length > 0) delete target[rng.pick(keys)];
      return root;
    }
    case 'duplicate': {
      const arrays = containers(root).filter(Array.isArray) as Json[][];
      if (arrays.length > 0 && rng.chance(0.5)) {
        const target = rng.pick(arrays);
        if (target.length > 0) target.push(...Array.from({ length: 1 + rng.int(30) }, () => clone(target[0]!)));
        return root;
      }
      // Duplicate keys can only be spelt in the text: see `duplicateKey` below.
      return root;
    }
    case 'typeSwap':
      return replaceNode(rng, root, () => randomScalar(rng));
    case 'overlong':
      return replaceNode(rng, root, () =>
        rng.pick(['x', 'é', '\u{1f600}', '%2e']).repeat(rng.pick([129, 257, 1025, 4097, 16_385, 65_537, 70_000])),
      );
    case 'nul':
      return replaceNode(rng, root, (old) => `${typeof old === 'string' ? old : ''}\u0000${rng.text(4)}`);
    case 'unicode':
      return replaceNode(rng, root, (old) => {
        const base = typeof old === 'string' ? old : rng.text(6);
        const at = rng.int(base.length + 1);
        return base.slice(0, at) + rng.pick(UNICODE_BITS) + base.slice(at);
      });
    case 'deep':
      return replaceNode(rng, root, () => deepValue(rng, rng.pick([63, 64, 65, 100, 1000, 3000])));
    case 'hostileName':
      return replaceNode(rng, root, () => rng.pick(HOSTILE_NAMES));
    case 'unknownField':
    case 'protoKey': {
      const objects = containers(root).filter((c) => !Array.isArray(c)) as Array<{ [key: string]: Json }>;
      if (objects.length === 0) return root;
      const key =
        kind === 'protoKey'
          ? rng.pick(['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'])
          : rng.text(10);
      // defineProperty: a plain assignment to __proto__ would set the prototype rather than add a field.
      Object.defineProperty(rng.pick(objects), key, {
        value: randomScalar(rng),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      return root;
    }
    case 'bigArray':
      return replaceNode(rng, root, () => Array.from({ length: rng.pick([26, 101, 1001, 20_000]) }, () => rng.text(3)));
    case 'empty':
      return rng.pick<Json>([{}, [], null, '', 0]);
  }
}

/** Spells a random existing key twice in the serialised text (JSON.parse keeps the last). */
function duplicateKey(rng: Rng, text: string): string {
  const keys = [...text.matchAll(/"([A-Za-z_]+)":/g)];
  if (keys.length === 0) return text;
  const match = rng.pick(keys);
  const at = match.index;
  return `${text.slice(0, at)}"${match[1]}":${JSON.stringify(randomScalar(rng))},${text.slice(at)}`;
}

/** Mutations of the bytes once serialised: what no structure-aware step can spell. */
function mutateBytes(rng: Rng, text: string): Buffer {
  let bytes = Buffer.from(text, 'utf8');
  switch (rng.int(9)) {
    case 0:
      return bytes.subarray(0, rng.int(bytes.length + 1));
    case 1: {
      const bad = rng.pick([[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xe2, 0x82]]);
      const at = rng.int(bytes.length + 1);
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(bad), bytes.subarray(at)]);
    }
    case 2:
      bytes = Buffer.from(bytes);
      if (bytes.length > 0) bytes[rng.int(bytes.length)] = rng.int(256);
      return bytes;
    case 3:
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);
    case 4:
      return Buffer.concat([bytes, Buffer.from(rng.pick(['}', ']', ',', ' x', '\u0000', '{}', '\n\n{"a":1}']))]);
    case 5:
      return Buffer.from(rng.pick(NOT_JSON), 'utf8');
    case 6: {
      const numbers = [...text.matchAll(/:(-?\d+(\.\d+)?)/g)];
      if (numbers.length === 0) return Buffer.from(text.replace(/:"[^"]*"/, `:${rng.pick(RAW_NUMBERS)}`), 'utf8');
      const m = rng.pick(numbers);
      return Buffer.from(`${text.slice(0, m.index + 1)}${rng.pick(RAW_NUMBERS)}${text.slice(m.index + m[0].length)}`);
    }
    case 7:
      return Buffer.from(duplicateKey(rng, text), 'utf8');
    default:
      // Lone surrogates spelt as escapes: valid JSON text, invalid Unicode once decoded.
      return Buffer.from(text.replace(/"([^"]*)"/, `"$1\\ud800"`), 'utf8');
  }
}

export interface MutatedBody {
  readonly body: Buffer;
  /** Which mutations made it, for the failure report. */
  readonly how: string;
}

/**
 * A valid request body, mutated structure-aware: one to three tree mutations (drop, duplicate, type swap, overlong
 * strings, NUL bytes, Unicode edge cases, deep nesting, hostile names, unknown and prototype keys, huge arrays),
 * then sometimes a byte-level one (truncation, invalid UTF-8, BOM, out-of-range numbers, duplicate keys, not JSON).
 * Occasionally the body is left valid, so the server's answer to valid input is exercised between the hostile ones.
 */
export function mutateJson(rng: Rng, valid: Json): MutatedBody {
  if (rng.chance(0.05)) return { body: Buffer.from(JSON.stringify(valid), 'utf8'), how: 'valid' };
  let tree = clone(valid);
  const how: string[] = [];
  const steps = 1 + rng.int(3);
  for (let i = 0; i < steps; i++) {
    const kind = rng.pick(KINDS);
    how.push(kind);
    tree = mutateTree(rng, tree, kind);
  }
  let text: string;
  try {
    text = JSON.stringify(tree) ?? 'null';
  } catch {
    // Deep nesting applied over deep nesting: deeper than JSON.stringify recurses. Spell it as text instead.
    text = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    how.push('text-deep');
  }
  if (rng.chance(0.3)) {
    how.push('bytes');
    return { body: mutateBytes(rng, text), how: how.join('+') };
  }
  return { body: Buffer.from(text, 'utf8'), how: how.join('+') };
}

/** A body over the server's 1 MiB cap, rarely: they cost the most to send. */
export function hugeBody(rng: Rng): Buffer {
  const size = rng.pick([1024 * 1024 + 1, 2 * 1024 * 1024]);
  const head = Buffer.from('{"value":"', 'utf8');
  return Buffer.concat([head, Buffer.alloc(size - head.length, 0x61)]);
}

export const CONTENT_TYPES = [
  undefined,
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/x-amz-json-1.1',
  'application/x-amz-json-1.0',
  'application/json\u0000',
  '',
  '*/*',
];

/** Percent-encoding and path twists, appended to or spliced into a valid path. */
export function mutatePath(rng: Rng, valid: string): string {
  const twists = [
    '/..',
    '/../..',
    '/%2e%2e',
    '/%2E%2E/%2e%2e',
    '//',
    '/.',
    '%00',
    '%',
    '%z',
    '%zz',
    '%ff',
    '%C0%AF',
    '%ED%A0%80',
    '%E2%80%AE',
    '%C3%A9',
    '/%2f',
    '\\..\\',
    '?',
    '??',
    '#frag',
    '?a=%%',
    '?a=%ED%A0%80',
    '?limit=-1',
    '?limit=1e9',
    '?limit=abc',
    '?cursor=%ff',
    '?stage=AWSCURRENT&stage=AWSPREVIOUS',
    `?${'a'.repeat(2000)}=1`,
    `/${'a'.repeat(600)}`,
    ';jsessionid=x',
    '/%u002e%u002e',
  ];
  const twist = rng.pick(twists);
  switch (rng.int(4)) {
    case 0:
      return `${valid}${twist}`;
    case 1: {
      const slash = valid.lastIndexOf('/');
      return `${valid.slice(0, slash + 1)}${encodeName(rng.pick(HOSTILE_NAMES))}`;
    }
    case 2: {
      const at = 1 + rng.int(valid.length);
      return `${valid.slice(0, at)}${twist}${valid.slice(at)}`;
    }
    default: {
      const slash = valid.lastIndexOf('/');
      // Raw, not encoded: node:http sends the bytes given, so the server's own decoding is what is tested.
      return `${valid.slice(0, slash + 1)}${encodeURI(rng.text(16)).replace(/%25/g, '%')}`;
    }
  }
}

/** encodeURIComponent, except that a lone surrogate is spelt as the bytes a careless encoder would send (CESU-8). */
export function encodeName(name: string): string {
  try {
    return encodeURIComponent(name);
  } catch {
    return name.replace(/[\ud800-\udfff]/g, '%ED%A0%80').replace(/[^%A-Za-z0-9]/g, (c) => encodeURIComponent(c));
  }
}
