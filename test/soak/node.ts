import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { verifyAuditFile } from '../../lambdas/adapters/local/audit-file/file-audit-sink.ts';
import { dataPaths } from '../../lambdas/entrypoints/local/config.ts';
import { type ServerProcess, startServer } from '../support/server-process.ts';

/**
 * What the soak campaigns share: the real `coffer server` (dist/, through bin/coffer.mjs) started with settings that
 * let a campaign hammer a few secrets, a JSON client that never hangs, and the checks made after every restart.
 */

/**
 * The server's settings for a campaign: no per-secret write rate (workers overwrite their own few secrets far faster
 * than 10/s) and room for many young versions, so every refusal a campaign sees is one it is looking for.
 */
export const SOAK_ENV: Readonly<Record<string, string>> = {
  COFFER_SECRET_WRITE_RATE: '0',
  COFFER_MAX_DEPRECATED_VERSIONS: '100000',
  COFFER_ROTATION_TICK_MS: '200',
  COFFER_ROTATION_RETRY_INTERVAL_MS: '0',
};

export function startSoakServer(dataDir: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  return startServer(dataDir, { ...SOAK_ENV, ...env });
}

export interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/**
 * One request; rejects when the connection fails (the server was killed) or after `timeoutMs`, so a worker never
 * waits on a dead socket. The body is parsed when it is JSON and kept as `{ text }` otherwise.
 */
export async function call(
  address: string,
  token: string | undefined,
  method: string,
  urlPath: string,
  body?: unknown,
  timeoutMs = 15_000,
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers['x-coffer-token'] = token;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${address}${urlPath}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed };
}

/** SQLite's own `PRAGMA integrity_check` of the node's store, through a read-only connection beside the server's. */
export function storeIntegrity(dataDir: string): string {
  const file = dataPaths(dataDir).database;
  if (!existsSync(file)) return `no store at ${file}`;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const rows = db.pragma('integrity_check', { simple: false }) as { integrity_check: string }[];
    return rows.map((row) => row.integrity_check).join('; ');
  } finally {
    db.close();
  }
}

/** The audit chain as the server verifies it (its file against its own head anchor). */
export async function auditVerifiesOnline(server: ServerProcess): Promise<string | undefined> {
  const res = await call(server.address, server.rootToken, 'GET', '/v1/sys/audit/verify');
  if (res.status === 200 && res.body.ok === true) return undefined;
  return `audit verify answered ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`;
}

/** The audit chain as `coffer audit verify --data-dir` verifies it offline, with the server stopped. */
export async function auditVerifiesOffline(dataDir: string): Promise<string | undefined> {
  const log = dataPaths(dataDir).auditLog;
  const result = await verifyAuditFile(log, { anchorPath: `${log}.head` });
  return result.ok ? undefined : `offline audit verify: ${JSON.stringify(result).slice(0, 300)}`;
}

/** Milliseconds of sleep. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A campaign's data directory inside its temporary directory. */
export const dataDirIn = (dir: string) => path.join(dir, 'data');
