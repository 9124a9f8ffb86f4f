import * as z from 'zod';
import { LeaseList, LeaseRenewed } from '../../api/leases.ts';
import { describeError, formatTime, PageHeading, type PageProps, useLoad } from '../components.tsx';

export function LeasesPage({ api, notify }: PageProps) {
  const leases = useLoad(() => api.call('/v1/sys/leases', LeaseList), []);

  async function renew(leaseId: string) {
    try {
      const renewed = await api.call('/v1/sys/leases/renew', LeaseRenewed, { method: 'POST', body: { leaseId } });
      notify({ kind: 'ok', text: `Renewed ${leaseId} until ${formatTime(renewed.expiresAt)}.` });
      leases.reload();
    } catch (error) {
      notify({ kind: 'error', text: `Could not renew ${leaseId}: ${describeError(error)}` });
    }
  }

  async function revoke(leaseId: string) {
    try {
      await api.call('/v1/sys/leases/revoke', z.unknown(), { method: 'POST', body: { leaseId } });
      notify({ kind: 'ok', text: `Revoked ${leaseId}.` });
      leases.reload();
    } catch (error) {
      notify({ kind: 'error', text: `Could not revoke ${leaseId}: ${describeError(error)}` });
    }
  }

  return (
    <section aria-labelledby="leases-heading">
      <PageHeading>
        <span id="leases-heading">Leases</span>
      </PageHeading>
      <div class="card">
        {leases.error === undefined ? null : <p class="error">{leases.error}</p>}
        <table>
          <caption>Leases of dynamic credentials</caption>
          <thead>
            <tr>
              <th scope="col">Lease</th>
              <th scope="col">Kind</th>
              <th scope="col">State</th>
              <th scope="col">Expires</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {(leases.data?.leases ?? []).map((lease) => (
              <tr key={lease.leaseId}>
                <td>
                  <code>{lease.leaseId}</code>
                </td>
                <td>{lease.kind}</td>
                <td>{lease.state}</td>
                <td>{formatTime(lease.expiresAt)}</td>
                <td>
                  <button type="button" onClick={() => void renew(lease.leaseId)} aria-label={`Renew ${lease.leaseId}`}>
                    Renew
                  </button>{' '}
                  <button
                    type="button"
                    onClick={() => void revoke(lease.leaseId)}
                    aria-label={`Revoke ${lease.leaseId}`}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {leases.data?.leases.length === 0 ? <p>No leases.</p> : null}
      </div>
    </section>
  );
}
