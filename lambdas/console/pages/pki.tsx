import { PkiCaChain, PkiCertificateList, PkiRoleList } from '../../api/pki.ts';
import { formatTime, PageHeading, type PageProps, useLoad } from '../components.tsx';

export function PkiPage({ api }: PageProps) {
  const ca = useLoad(() => api.call('/v1/pki/ca', PkiCaChain), []);
  const roles = useLoad(() => api.call('/v1/pki/roles', PkiRoleList), []);
  const certs = useLoad(() => api.call('/v1/pki/certs', PkiCertificateList), []);
  return (
    <section aria-labelledby="pki-heading">
      <PageHeading>
        <span id="pki-heading">PKI</span>
      </PageHeading>
      <div class="columns">
        <div class="card">
          <h2>Certificate authority</h2>
          {ca.error === undefined ? null : <p class="error">{ca.error}</p>}
          {ca.data === undefined ? null : (
            <>
              <p>Chain of {ca.data.ca_chain.length} certificate(s), issuing CA first.</p>
              <pre class="pem">{ca.data.certificate}</pre>
            </>
          )}
          <h2>Roles</h2>
          {roles.error === undefined ? null : <p class="error">{roles.error}</p>}
          <ul aria-label="PKI roles">
            {(roles.data?.roles ?? []).map((role) => (
              <li key={role}>{role}</li>
            ))}
          </ul>
        </div>
        <div class="card">
          <table>
            <caption>Issued certificates</caption>
            <thead>
              <tr>
                <th scope="col">Serial</th>
                <th scope="col">Status</th>
                <th scope="col">Expires</th>
              </tr>
            </thead>
            <tbody>
              {(certs.data?.certificates ?? []).map((cert) => (
                <tr key={cert.serial_number}>
                  <td>
                    <code>{cert.serial_number}</code>
                  </td>
                  <td>{cert.status}</td>
                  <td>{formatTime(cert.expiration)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {certs.error === undefined ? null : <p class="error">{certs.error}</p>}
        </div>
      </div>
    </section>
  );
}
