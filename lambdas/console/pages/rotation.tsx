import { RotationCompliance, RotationConfigList, RotationHistory } from '../../api/rotation.ts';
import { formatTime, PageHeading, type PageProps, useLoad } from '../components.tsx';

export function RotationPage({ api }: PageProps) {
  const status = useLoad(() => api.call('/v1/rotation/status', RotationCompliance), []);
  const configs = useLoad(() => api.call('/v1/rotation/configs', RotationConfigList), []);
  const history = useLoad(() => api.call('/v1/rotation/rotations', RotationHistory, { query: { limit: '50' } }), []);
  const s = status.data;
  return (
    <section aria-labelledby="rotation-heading">
      <PageHeading>
        <span id="rotation-heading">Rotation</span>
      </PageHeading>
      <div class="columns">
        <div class="card">
          <h2>Status</h2>
          {status.error === undefined ? null : <p class="error">{status.error}</p>}
          {s === undefined ? null : (
            <dl class="facts">
              <dt>Secrets with rotation</dt>
              <dd>{s.secretsWithRotation}</dd>
              <dt>On schedule</dt>
              <dd>
                {s.onSchedule} ({Math.round(s.onScheduleShare * 100)}%)
              </dd>
              <dt>Overdue</dt>
              <dd>{s.overdue.map((o) => o.name).join(', ') || 'none'}</dd>
              <dt>Rotations</dt>
              <dd>
                {s.rotations.succeeded} succeeded, {s.rotations.failed} failed, {s.rotations.running} running
              </dd>
            </dl>
          )}
          <table>
            <caption>Rotation configs</caption>
            <thead>
              <tr>
                <th scope="col">Secret</th>
                <th scope="col">Type</th>
                <th scope="col">Last</th>
                <th scope="col">Next</th>
              </tr>
            </thead>
            <tbody>
              {(configs.data?.configs ?? []).map((c) => (
                <tr key={c.name}>
                  <td>{c.name}</td>
                  <td>{c.type}</td>
                  <td>
                    {formatTime(c.lastRotatedAt)} {c.lastStatus ?? ''}
                  </td>
                  <td>{formatTime(c.nextRotationAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div class="card">
          <table>
            <caption>History</caption>
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Secrets</th>
                <th scope="col">Trigger</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {(history.data?.rotations ?? []).map((r) => (
                <tr key={r.rotationId}>
                  <td>{formatTime(r.startedAt)}</td>
                  <td>{r.secrets.join(', ')}</td>
                  <td>{r.trigger}</td>
                  <td>{r.status}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </section>
  );
}
