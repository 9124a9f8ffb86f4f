import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImportJournal } from '../../../../../lambdas/entrypoints/cli/import/resume.ts';

const file = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'coffer-resume-')), 'import.resume');

describe('ImportJournal', () => {
  it('remembers started and finished items across opens, and derives the same version ids', () => {
    const f = file();
    const first = ImportJournal.open(f);
    const fp = first.fingerprint('dotenv:.env', 'DB_URL', 'app/DB_URL');
    const id = first.versionId(fp, 0);
    first.start(fp);
    first.finish(fp, 'created');
    first.close();

    const again = ImportJournal.open(f);
    expect(again.wasStarted(fp)).toBe(true);
    expect(again.doneBefore(fp)).toBe('created');
    expect(again.versionId(fp, 0)).toBe(id);
    expect(again.versionId(fp, 1)).not.toBe(id);
    expect(id).toMatch(/^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/);
  });

  it('gives another journal other version ids for the same item', () => {
    const a = ImportJournal.ephemeral();
    const b = ImportJournal.ephemeral();
    const fp = a.fingerprint('env', 'A', 'A');
    expect(b.fingerprint('env', 'A', 'A')).toBe(fp);
    expect(a.versionId(fp, 0)).not.toBe(b.versionId(fp, 0));
  });

  it('drops a last line cut by a crash, and refuses a file that is not a journal', () => {
    const f = file();
    const j = ImportJournal.open(f);
    const fp = j.fingerprint('env', 'A', 'A');
    j.start(fp);
    j.close();
    writeFileSync(f, `${readFileSync(f, 'utf8')}{"done":"${fp}","res`);
    const reopened = ImportJournal.open(f);
    expect(reopened.wasStarted(fp)).toBe(true);
    expect(reopened.doneBefore(fp)).toBeUndefined();

    const other = file();
    writeFileSync(other, 'A=1\n');
    expect(() => ImportJournal.open(other)).toThrow('is not a coffer import resume file');
  });

  it('writes no value: only fingerprints and outcomes', () => {
    const f = file();
    const j = ImportJournal.open(f);
    const fp = j.fingerprint('dotenv:.env', 'DB_URL', 'app/DB_URL');
    j.start(fp);
    j.finish(fp, 'created');
    j.close();
    const text = readFileSync(f, 'utf8');
    expect(text).not.toContain('DB_URL');
    expect(text.split('\n').slice(1, 3)).toEqual([`{"started":"${fp}"}`, `{"done":"${fp}","result":"created"}`]);
  });
});
