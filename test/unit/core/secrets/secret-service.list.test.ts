import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../lambdas/core/errors.ts';
import type { ListEntry, ListSecretsInput } from '../../../../lambdas/core/secrets/secret-types.ts';
import { setup, str } from './fixtures.ts';

type Service = ReturnType<typeof setup>['secrets'];

async function listAll(secrets: Service, input: ListSecretsInput): Promise<ListEntry[][]> {
  const pages: ListEntry[][] = [];
  let cursor: string | undefined;
  do {
    const page = await secrets.list({ ...input, cursor });
    pages.push(page.entries);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return pages;
}

/** 260 secrets: 200 under `app/` (in 10 folders `app/f00/..`), 50 directly in `app/`, and 10 elsewhere. */
async function populate(secrets: Service) {
  const names: string[] = [];
  for (let f = 0; f < 10; f++) {
    for (let i = 0; i < 20; i++) names.push(`app/f${String(f).padStart(2, '0')}/s${String(i).padStart(2, '0')}`);
  }
  for (let i = 0; i < 50; i++) names.push(`app/direct-${String(i).padStart(2, '0')}`);
  for (let i = 0; i < 10; i++) names.push(`apple/x${i}`);
  for (const name of names) await secrets.create({ name });
  return names;
}

describe('Class: SecretService', () => {
  describe('list', () => {
    it('lists every secret under a prefix once, recursively, across pages', async () => {
      const { secrets } = setup();
      const names = await populate(secrets);
      const pages = await listAll(secrets, { prefix: 'app/', recursive: true, limit: 7 });
      const listed = pages.flat().map((e) => e.name);
      const expected = names.filter((n) => n.startsWith('app/')).sort();
      expect(listed).toHaveLength(250);
      expect(listed).toEqual(expected);
      expect(pages.every((p) => p.length <= 7)).toBe(true);
      expect(pages.flat().every((e) => e.kind === 'secret' && e.arn.includes(`:secret:${e.name}-`))).toBe(true);
    });

    it('lists direct children and one entry per folder, across pages', async () => {
      const { secrets } = setup();
      await populate(secrets);
      const pages = await listAll(secrets, { prefix: 'app/', limit: 4 });
      const entries = pages.flat();
      const folders = entries.filter((e) => e.kind === 'folder').map((e) => e.name);
      const direct = entries.filter((e) => e.kind === 'secret').map((e) => e.name);
      expect(folders).toEqual(Array.from({ length: 10 }, (_, f) => `app/f${String(f).padStart(2, '0')}/`));
      expect(direct).toHaveLength(50);
      expect(new Set(entries.map((e) => e.name)).size).toBe(entries.length);
    });

    it('lists the root as folders', async () => {
      const { secrets } = setup();
      await populate(secrets);
      await secrets.create({ name: 'top' });
      const { entries, nextCursor } = await secrets.list({});
      expect(entries).toEqual([
        { name: 'app/', kind: 'folder' },
        { name: 'apple/', kind: 'folder' },
        expect.objectContaining({ name: 'top', kind: 'secret' }),
      ]);
      expect(nextCursor).toBeUndefined();
    });

    it('treats a prefix without a trailing slash as a folder, so siblings never leak', async () => {
      const { secrets } = setup();
      await populate(secrets);
      const listed = (await listAll(secrets, { prefix: 'app', recursive: true, limit: 1000 })).flat();
      expect(listed).toHaveLength(250);
      expect(listed.some((e) => e.name.startsWith('apple/'))).toBe(false);
    });

    it('hides secrets pending deletion unless asked, and folders holding only such secrets', async () => {
      const { secrets } = setup();
      await secrets.create({ name: 'a/live' });
      await secrets.create({ name: 'a/gone' });
      await secrets.create({ name: 'a/sub/gone' });
      await secrets.delete({ secretId: 'a/gone' });
      await secrets.delete({ secretId: 'a/sub/gone' });
      expect((await secrets.list({ prefix: 'a/' })).entries.map((e) => e.name)).toEqual(['a/live']);
      const all = await secrets.list({ prefix: 'a/', includePlannedDeletion: true });
      expect(all.entries.map((e) => e.name)).toEqual(['a/gone', 'a/live', 'a/sub/']);
    });

    it('gives no cursor on the last page', async () => {
      const { secrets } = setup();
      for (const n of ['x/1', 'x/2', 'x/3', 'x/4']) await secrets.create({ name: n });
      const first = await secrets.list({ prefix: 'x/', limit: 2 });
      expect(first.nextCursor).toBeDefined();
      const second = await secrets.list({ prefix: 'x/', limit: 2, cursor: first.nextCursor });
      expect(second.entries.map((e) => e.name)).toEqual(['x/3', 'x/4']);
      expect(second.nextCursor).toBeUndefined();
    });

    it('refuses a malformed cursor, limit or prefix', async () => {
      const { secrets } = setup();
      await expect(secrets.list({ cursor: '%%' })).rejects.toThrow(ValidationError);
      await expect(secrets.list({ cursor: Buffer.from('[1]').toString('base64url') })).rejects.toThrow(ValidationError);
      await expect(secrets.list({ limit: 0 })).rejects.toThrow(ValidationError);
      await expect(secrets.list({ limit: 1001 })).rejects.toThrow(ValidationError);
      await expect(secrets.list({ prefix: '../' })).rejects.toThrow(ValidationError);
    });
  });

  describe('listVersions', () => {
    it('lists labelled versions newest first, deprecated ones on request, with pagination', async () => {
      const { secrets, clock } = setup();
      const ids = [(await secrets.create({ name: 's', value: str('v0') })).versionId!];
      for (let i = 1; i < 12; i++) {
        clock.advance(1000);
        ids.push((await secrets.put({ secretId: 's', value: str(`v${i}`) })).versionId);
      }
      const labelled = await secrets.listVersions({ secretId: 's' });
      expect(labelled.versions.map((v) => [v.versionId, v.versionStages])).toEqual([
        [ids[11], ['AWSCURRENT']],
        [ids[10], ['AWSPREVIOUS']],
      ]);
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await secrets.listVersions({ secretId: 's', includeDeprecated: true, limit: 5, cursor });
        seen.push(...page.versions.map((v) => v.versionId));
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      expect(seen).toEqual([...ids].reverse());
    });
  });
});
