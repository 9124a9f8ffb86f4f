import { useState } from 'preact/hooks';
import * as z from 'zod';
import { AuditTail } from '../../api/sys.ts';
import { Field, formatTime, PageHeading, type PageProps, Select, useLoad } from '../components.tsx';

/** The fields of a record the search shows; records are HMAC-redacted by the server before they get here. */
const ShownRecord = z
  .object({
    type: z.string(),
    time: z.string(),
    requestId: z.string(),
    operation: z.string(),
    path: z.string(),
    outcome: z.string().optional(),
    status: z.number().optional(),
    principal: z.object({ displayName: z.string() }).partial().optional(),
  })
  .passthrough();
type ShownRecord = z.infer<typeof ShownRecord>;

const LINES = [
  ['100', 'last 100 records'],
  ['1000', 'last 1,000 records'],
  ['10000', 'last 10,000 records'],
] as const;

const OUTCOMES = [
  ['', 'any outcome'],
  ['ok', 'ok'],
  ['denied', 'denied'],
  ['error', 'error'],
] as const;

/**
 * Audit search: the newest records (`GET /v1/sys/audit/tail`), filtered here by operation, path, outcome and request
 * id. The filters narrow what was fetched; the server decides how far back a caller with `sudo` may look.
 */
export function AuditPage({ api }: PageProps) {
  const [lines, setLines] = useState('100');
  const [operation, setOperation] = useState('');
  const [path, setPath] = useState('');
  const [outcome, setOutcome] = useState('');
  const [requestId, setRequestId] = useState('');
  const tail = useLoad(() => api.call('/v1/sys/audit/tail', AuditTail, { query: { lines } }), [lines]);
  const records = (tail.data?.records ?? [])
    .map((record) => ShownRecord.safeParse(record))
    .filter((parsed) => parsed.success)
    .map((parsed) => parsed.data as ShownRecord)
    .filter(
      (r) =>
        (operation === '' || r.operation.includes(operation)) &&
        (path === '' || r.path.includes(path)) &&
        (outcome === '' || r.outcome === outcome) &&
        (requestId === '' || r.requestId === requestId.trim()),
    )
    .reverse();
  return (
    <section aria-labelledby="audit-heading">
      <PageHeading>
        <span id="audit-heading">Audit</span>
      </PageHeading>
      <div class="card">
        <form class="filters" aria-label="Audit filters" onSubmit={(event) => event.preventDefault()}>
          <Select id="audit-lines" label="Records" value={lines} options={LINES} onChange={setLines} />
          <Field id="audit-operation" label="Operation contains" value={operation} onInput={setOperation} />
          <Field id="audit-path" label="Path contains" value={path} onInput={setPath} />
          <Select id="audit-outcome" label="Outcome" value={outcome} options={OUTCOMES} onChange={setOutcome} />
          <Field id="audit-request-id" label="Request id" value={requestId} onInput={setRequestId} />
          <button type="button" onClick={tail.reload}>
            Refresh
          </button>
        </form>
        {tail.error === undefined ? null : <p class="error">{tail.error}</p>}
        <p aria-live="polite">{records.length} matching record(s), newest first.</p>
        <table class="audit">
          <caption>Audit records</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Type</th>
              <th scope="col">Operation</th>
              <th scope="col">Path</th>
              <th scope="col">Outcome</th>
              <th scope="col">Who</th>
              <th scope="col">Request id</th>
            </tr>
          </thead>
          <tbody>
            {records.map((r) => (
              <tr key={`${r.requestId}-${r.type}-${r.time}`} data-operation={r.operation}>
                <td>{formatTime(r.time)}</td>
                <td>{r.type}</td>
                <td>{r.operation}</td>
                <td>{r.path}</td>
                <td>{r.outcome === undefined ? '' : `${r.outcome} ${r.status ?? ''}`}</td>
                <td>{r.principal?.displayName ?? ''}</td>
                <td>
                  <code>{r.requestId}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
