import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { escapeIdentifier, escapeLiteral } from '../../../../../lambdas/engines/shared/postgres/sql-escape.ts';

/** Inputs that exercise every branch of pg's quoting: quotes of both kinds, backslashes, and text beyond ASCII. */
const INPUTS = [
  '',
  'plain',
  'coffer_app_1',
  "O'Brien",
  "''",
  '"quoted"',
  'a"b""c',
  'back\\slash',
  '\\',
  "\\'",
  'it\'s a \\ mix "of" all',
  'x; DROP ROLE admin; --',
  'é ü ß 漢字 😀',
  "😀'😀\\😀",
  'line\nbreak\ttab',
  '\u0000nul',
];

describe('Module: sql-escape (PostgreSQL quoting without loading pg)', () => {
  it.each(INPUTS)('quotes %j exactly as pg.escapeIdentifier and pg.escapeLiteral do', (input) => {
    expect(escapeIdentifier(input)).toBe(pg.escapeIdentifier(input));
    expect(escapeLiteral(input)).toBe(pg.escapeLiteral(input));
  });

  it('doubles quotes and marks a literal with a backslash as an E string', () => {
    expect(escapeIdentifier('a"b')).toBe('"a""b"');
    expect(escapeLiteral("a'b")).toBe("'a''b'");
    expect(escapeLiteral('a\\b')).toBe(" E'a\\\\b'");
  });
});
