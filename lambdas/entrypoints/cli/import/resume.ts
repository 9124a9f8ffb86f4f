import { createHash, createHmac, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { CliError, ExitCode } from '../../../agent/exit-codes.ts';

/**
 * The journal of an import (`--resume-file`), so a re-run after an interruption continues where it stopped. It is
 * JSON lines, appended and fsynced as each item starts and ends: a header with a random salt, then `started` and
 * `done` records naming items by a fingerprint of where they come from and go to. No value is ever in it: the
 * fingerprint hashes the source's key and the target name only.
 *
 * The salt also derives the version id (the write's client request token) of each version that has none of its own,
 * so a write that reached the server before the interruption but not the journal is recognised by the server as the
 * same version when retried, and not stored twice.
 */
export class ImportJournal {
  private readonly started = new Set<string>();
  private readonly finished = new Map<string, string>();
  private fd: number | undefined;

  private constructor(
    private readonly salt: Buffer,
    private readonly file: string | undefined,
  ) {}

  /** A journal kept in memory only (no `--resume-file`, or a dry run that must write nothing). */
  static ephemeral(): ImportJournal {
    return new ImportJournal(randomBytes(32), undefined);
  }

  /** Opens `file`, continuing the journal in it, or starts a new one there. */
  static open(file: string): ImportJournal {
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new CliError(
          `cannot read the resume file ${file}: ${(err as NodeJS.ErrnoException).code}`,
          ExitCode.usage,
        );
      }
    }
    if (text === undefined || text.trim() === '') {
      const journal = new ImportJournal(randomBytes(32), file);
      journal.append({ resume: 'coffer-import', format: 1, salt: journal.salt.toString('base64') });
      return journal;
    }
    // A line cut by a crash mid-write is the last one: it is dropped (its item is simply done again).
    const records = text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
    const head = records[0];
    if (head?.resume !== 'coffer-import' || typeof head.salt !== 'string') {
      throw new CliError(`${file} is not a coffer import resume file`, ExitCode.usage);
    }
    const journal = new ImportJournal(Buffer.from(head.salt, 'base64'), file);
    for (const record of records.slice(1)) {
      if (typeof record.started === 'string') journal.started.add(record.started);
      if (typeof record.done === 'string') journal.finished.set(record.done, String(record.result ?? 'done'));
    }
    return journal;
  }

  /** Where an item comes from and goes to, hashed: the journal's name for it. */
  fingerprint(source: string, key: string, target: string): string {
    return createHash('sha256')
      .update(JSON.stringify([source, key, target]))
      .digest('hex')
      .slice(0, 32);
  }

  /** A version id (32–64 of letters, digits, '-', as the API takes) for the `index`-th version of an item. */
  versionId(fingerprint: string, index: number): string {
    const h = createHmac('sha256', this.salt).update(`${fingerprint}:${index}`).digest('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  }

  wasStarted(fingerprint: string): boolean {
    return this.started.has(fingerprint);
  }

  /** How the item ended in an earlier run, if it did. */
  doneBefore(fingerprint: string): string | undefined {
    return this.finished.get(fingerprint);
  }

  start(fingerprint: string): void {
    if (this.started.has(fingerprint)) return;
    this.started.add(fingerprint);
    this.append({ started: fingerprint });
  }

  finish(fingerprint: string, result: string): void {
    this.finished.set(fingerprint, result);
    this.append({ done: fingerprint, result });
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private append(record: Record<string, unknown>): void {
    if (this.file === undefined) return;
    this.fd ??= openSync(this.file, 'a', 0o600);
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
    // A record the disk lost would make the resumed run redo an item: harmless (writes are idempotent), but the
    // journal is only worth keeping if it tells the truth, so each record is on disk before the next write starts.
    fsyncSync(this.fd);
  }
}
