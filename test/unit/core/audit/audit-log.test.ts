import { describe, expect, it } from 'vitest';
import { AuditHasher } from '../../../../lambdas/core/audit/audit-hmac.ts';
import {
  AuditLog,
  type AuditLogOptions,
  MAX_REDACT_DEPTH,
  TOO_DEEP,
} from '../../../../lambdas/core/audit/audit-log.ts';
import type { AuditRecord } from '../../../../lambdas/core/audit/audit-types.ts';
import { AuditUnavailableError, ValidationError } from '../../../../lambdas/core/errors.ts';
import type { AuditSink } from '../../../../lambdas/core/ports/audit-sink.ts';

class RecordingSink implements AuditSink {
  readonly appended: { record: AuditRecord; durable: boolean }[] = [];
  async append(record: AuditRecord, options: { durable: boolean }): Promise<void> {
    this.appended.push({ record, durable: options.durable });
  }
  async close(): Promise<void> {}
}

const hasher = new AuditHasher(Buffer.alloc(32, 0x5a));
const NOW = Date.UTC(2024, 4, 1, 12, 0, 0);

function logWith(options: Partial<AuditLogOptions> = {}): { log: AuditLog; sink: RecordingSink } {
  const sink = new RecordingSink();
  const log = new AuditLog({ sink, hasher, clock: { now: () => NOW }, ...options });
  return { log, sink };
}

/** A redacted value as every device but the built-in one never sees it: serialised, i.e. under the install's salt. */
const serialised = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

const entry = { requestId: 'r-1', operation: 'secret.read', path: 'secrets/prod/db', sourceIp: '10.0.0.1' };

describe('Class: AuditLog', () => {
  it('names a token principal by the HMAC of its accessor, hashing each accessor once', () => {
    let hashed = 0;
    const counting = new AuditHasher(Buffer.alloc(32, 0x5a));
    const hmac = counting.hmac.bind(counting);
    counting.hmac = (value) => {
      hashed++;
      return hmac(value);
    };
    const { log } = logWith({ hasher: counting });
    const principal = { type: 'token' as const, id: 'acc_1', displayName: 'app', policies: ['app'], metadata: {} };
    const first = log.principal(principal);
    const again = log.principal(principal);
    expect(first.id).toBe(hasher.hmac('acc_1'));
    expect(again.id).toBe(first.id);
    expect(log.principal({ ...principal, id: 'acc_2' }).id).toBe(hasher.hmac('acc_2'));
    expect(hashed).toBe(2);
  });

  it('writes request and response records with their type and time', async () => {
    const { log, sink } = logWith();
    await log.request({ ...entry, durable: true });
    await log.response({ ...entry, outcome: 'ok', status: 200 });
    expect(sink.appended).toEqual([
      { record: { ...entry, type: 'request', time: '2024-05-01T12:00:00.000Z' }, durable: true },
      {
        record: { ...entry, type: 'response', time: '2024-05-01T12:00:00.000Z', outcome: 'ok', status: 200 },
        durable: false,
      },
    ]);
  });

  it('excludes records that match every field of some filter', () => {
    const { log } = logWith({
      filters: [
        { operation: 'sys.health' },
        { operation: 'secret.list', pathPrefix: 'scratch/' },
        { pathPrefix: 'tmp/' },
      ],
    });
    expect(log.excluded('sys.health', '')).toBe(true);
    expect(log.excluded('secret.list', 'scratch/a')).toBe(true);
    expect(log.excluded('secret.list', 'prod/a')).toBe(false);
    expect(log.excluded('secret.read', 'scratch/a')).toBe(false);
    expect(log.excluded('secret.read', 'tmp/x')).toBe(true);
    expect(log.excluded('secret.read', 'prod/tmp/x')).toBe(false);
  });

  it('excludes nothing without filters', () => {
    expect(logWith().log.excluded('sys.health', '')).toBe(false);
  });

  it('refuses a filter that would match everything', () => {
    expect(() => logWith({ filters: [{}] })).toThrow(ValidationError);
    expect(() => logWith({ filters: [{ operation: '', pathPrefix: '' }] })).toThrow(ValidationError);
  });

  it('fails closed: a sink that rejects makes the call throw AuditUnavailableError with the cause', async () => {
    const failure = new Error('ENOSPC: no space left on device');
    const sink: AuditSink = { append: () => Promise.reject(failure), close: async () => {} };
    const log = new AuditLog({ sink, hasher });
    const refused = log.request(entry);
    await expect(refused).rejects.toBeInstanceOf(AuditUnavailableError);
    await expect(refused).rejects.toMatchObject({
      message: 'audit log unavailable: request refused',
      code: 'audit_unavailable',
      cause: failure,
    });
    await expect(log.response(entry)).rejects.toBeInstanceOf(AuditUnavailableError);
  });

  it('fails closed when the sink throws synchronously', async () => {
    const sink: AuditSink = {
      append: () => {
        throw new Error('broken');
      },
      close: async () => {},
    };
    await expect(new AuditLog({ sink, hasher }).request(entry)).rejects.toBeInstanceOf(AuditUnavailableError);
  });

  it('passes hmac through to the hasher', () => {
    expect(logWith().log.hmac('s.token')).toBe(hasher.hmac('s.token'));
  });
});

describe('Method: AuditLog.redact', () => {
  const { log } = logWith();

  it('replaces sensitive values with their HMAC and leaves the input untouched', () => {
    const input = { SecretString: 'hunter2', Name: 'db', nested: { token: 's.abc', keep: 'visible' } };
    const redacted = log.redact(input, ['SecretString', 'token']);
    expect(serialised(redacted)).toEqual({
      SecretString: hasher.hmac('hunter2'),
      Name: 'db',
      nested: { token: hasher.hmac('s.abc'), keep: 'visible' },
    });
    expect(input.SecretString).toBe('hunter2');
  });

  it('hashes buffers by their bytes', () => {
    const value = Buffer.from([1, 2, 3, 250]);
    expect(serialised(log.redact({ SecretBinary: value }, ['SecretBinary']))).toEqual({
      SecretBinary: hasher.hmac(value),
    });
  });

  it('never leaves a plaintext secret anywhere in the written record', async () => {
    const { log: audited, sink } = logWith();
    const secrets = ['correct horse battery', 'pin-secret', 'binary-secret', 'deep-secret', 'listed-secret', '48213'];
    const body = {
      SecretString: secrets[0],
      data: { password: secrets[1], pin: 48213, flags: [true] },
      SecretBinary: Buffer.from(secrets[2]!),
      versions: [{ meta: { SecretString: secrets[3] } }],
      SecretValues: [{ Name: 'a', SecretString: secrets[4] }],
      Name: 'visible-name',
    };
    await audited.response({
      ...entry,
      response: audited.redact(body, ['SecretString', 'SecretBinary', 'data']),
    });
    const json = JSON.stringify(sink.appended);
    for (const secret of secrets) expect(json).not.toContain(secret);
    expect(json).not.toContain(Buffer.from(secrets[2]!).toString('base64'));
    expect(json).toContain('visible-name');
    expect(json).toContain(hasher.hmac(secrets[1]!));
  });

  it('cuts a structure nested far deeper than any request at a marker instead of overflowing the stack', () => {
    let deep: unknown = { SecretString: 'deep-plaintext' };
    for (let i = 0; i < 20_000; i++) deep = i % 2 === 0 ? { a: deep } : [deep];
    let redacted: unknown;
    expect(() => {
      redacted = log.redact({ deep }, ['SecretString']);
    }).not.toThrow();
    const text = JSON.stringify(redacted);
    expect(text).toContain(TOO_DEEP);
    expect(text).not.toContain('deep-plaintext');
    expect(text.split('{').length + text.split('[').length - 2).toBeLessThanOrEqual(MAX_REDACT_DEPTH + 1);
  });

  it('cuts a deep sensitive value at the marker, leaving no leaf of it in plaintext', () => {
    let deep: unknown = 'deep-plaintext';
    for (let i = 0; i < 5_000; i++) deep = [deep];
    const redacted = log.redact({ SecretString: deep }, ['SecretString']);
    expect(JSON.stringify(redacted)).toContain(TOO_DEEP);
    expect(JSON.stringify(redacted)).not.toContain('deep-plaintext');
  });

  it('terminates on a cyclic object', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    expect(JSON.stringify(log.redact(cyclic, []))).toContain(TOO_DEEP);
  });

  it('keeps a structure as deep as the broker accepts intact', () => {
    let deep: unknown = { token: 's.abc' };
    for (let i = 0; i < 64; i++) deep = { a: deep };
    const text = JSON.stringify(log.redact({ deep }, ['token']));
    expect(text).not.toContain(TOO_DEEP);
    expect(text).toContain(hasher.hmac('s.abc'));
  });

  it('keeps null and absent sensitive values as they are', () => {
    expect(log.redact({ token: null, other: undefined }, ['token', 'other'])).toEqual({
      token: null,
      other: undefined,
    });
  });
});
