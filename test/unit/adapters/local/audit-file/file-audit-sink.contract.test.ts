import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { vi } from 'vitest';
import { FileAuditSink, fileIo } from '../../../../../lambdas/adapters/local/audit-file/file-audit-sink.ts';
import { describeAuditSinkContract } from '../../../../contract/audit-sink.contract.ts';

describeAuditSinkContract('FileAuditSink', { orderedAcrossRequests: true, refusesAfterClose: true }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-audit-contract-'));
  const logPath = path.join(dir, 'audit', 'audit.log');
  const sink = await FileAuditSink.open({ path: logPath });
  return {
    sink,
    // Read from disk, not from the sink: what another process (or a restart) would find.
    written: async () => fs.readFileSync(logPath, 'utf8').split('\n').slice(0, -1),
    failWrites: () => {
      vi.spyOn(fileIo, 'writeSync').mockImplementation(() => {
        throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
      });
    },
    cleanup: async () => {
      vi.restoreAllMocks();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});
