import { MemoryAuditSink } from '../../../../lambdas/adapters/memory/memory-audit-sink.ts';
import { describeAuditSinkContract } from '../../../contract/audit-sink.contract.ts';

describeAuditSinkContract('MemoryAuditSink', { orderedAcrossRequests: true, refusesAfterClose: false }, async () => {
  const sink = new MemoryAuditSink();
  return {
    sink,
    written: async () => [...sink.lines],
    failWrites: () => {
      sink.failWith = new Error('memory audit sink told to fail');
    },
  };
});
