import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { listTable, nameList, print, tableOf } from '../../../../lambdas/entrypoints/cli/io.ts';

function printed(output: 'json' | 'table', value: unknown, table?: () => string): string {
  const program = new Command('coffer').option('-o, --output <format>', '', 'table');
  const leaf = program.command('leaf');
  program.parse(['-o', output, 'leaf'], { from: 'user' });
  const chunks: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  print(leaf, value, table);
  vi.restoreAllMocks();
  return chunks.join('');
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('Function: print', () => {
  const described = { name: 'prod/db', createdAt: '2026-01-01T00:00:00Z', tags: { team: 'a' }, rotation: undefined };

  it('renders a describe without a table of its own as key and value columns in table mode, never JSON', () => {
    expect(printed('table', described).split('\n')).toEqual([
      'name       prod/db',
      'createdAt  2026-01-01T00:00:00Z',
      'tags       {"team":"a"}',
      '',
    ]);
  });

  it('prints JSON in json mode, whatever table the command has', () => {
    expect(JSON.parse(printed('json', described, () => 'ignored'))).toEqual({
      name: 'prod/db',
      createdAt: '2026-01-01T00:00:00Z',
      tags: { team: 'a' },
    });
  });

  it('prints an empty list as an empty JSON array in json mode', () => {
    expect(JSON.parse(printed('json', { leases: [] }))).toEqual({ leases: [] });
  });
});

describe('Function: listTable', () => {
  it('keeps the header and says (none) when there are no rows', () => {
    expect(listTable(['LEASE', 'STATE'], [])).toBe('LEASE  STATE\n(none)');
  });

  it('aligns rows under the header', () => {
    expect(listTable(['LEASE', 'STATE'], [['a/1', 'active']])).toBe('LEASE  STATE\na/1    active');
  });
});

describe('Function: nameList', () => {
  it('prints one name a line, or (none)', () => {
    expect(nameList(['a', 'b'])).toBe('a\nb');
    expect(nameList([])).toBe('(none)');
  });
});

describe('Function: tableOf', () => {
  it('renders a list of objects as columns under the union of their keys', () => {
    expect(
      tableOf([
        { serial: '01', revoked: false },
        { serial: '02', tags: ['x', 'y'] },
      ])
        .split('\n')
        .map((line) => line.trimEnd()),
    ).toEqual(['SERIAL  REVOKED  TAGS', '01      false', '02               x,y']);
  });

  it('says (none) for an empty list and prints scalars as text', () => {
    expect(tableOf([])).toBe('(none)');
    expect(tableOf('pem')).toBe('pem');
    expect(tableOf(null)).toBe('');
  });
});
