import { useState } from 'preact/hooks';
import * as z from 'zod';
import { TokenDescription } from '../api/tokens.ts';
import { ApiError, type CofferApi, type SigningCredentials } from './api-client.ts';
import { describeError, type Notice, Status } from './components.tsx';
import { AuditPage } from './pages/audit.tsx';
import { CompliancePage } from './pages/compliance.tsx';
import { LeasesPage } from './pages/leases.tsx';
import { PkiPage } from './pages/pki.tsx';
import { PoliciesPage } from './pages/policies.tsx';
import { RotationPage } from './pages/rotation.tsx';
import { SecretsPage } from './pages/secrets.tsx';
import { SignIn, type SigningDefaults } from './pages/sign-in.tsx';

const PAGES = {
  secrets: { title: 'Secrets', view: SecretsPage },
  policies: { title: 'Policies', view: PoliciesPage },
  leases: { title: 'Leases', view: LeasesPage },
  pki: { title: 'PKI', view: PkiPage },
  rotation: { title: 'Rotation', view: RotationPage },
  compliance: { title: 'Compliance', view: CompliancePage },
  audit: { title: 'Audit', view: AuditPage },
} as const;
type PageName = keyof typeof PAGES;

/**
 * The console. Which page is open is kept in memory, not in the URL: the URL stays `/ui/`, so nothing a page shows
 * (a secret's name, a search) reaches history, bookmarks or a `Referer`.
 */
export function App(props: { readonly api: CofferApi; readonly signing: SigningDefaults }) {
  const { api } = props;
  const [signedIn, setSignedIn] = useState(false);
  const [who, setWho] = useState<string>('');
  const [page, setPage] = useState<PageName>('secrets');
  const [notice, setNotice] = useState<Notice | undefined>(undefined);

  /** Whether the console logged in for the token it holds (and so owns it), or was handed an existing one. */
  const [minted, setMinted] = useState(false);

  /**
   * Signs every call with the credentials, after one signed call proves them: `lookup-self` answers 400 ("needs a
   * token caller") only once the signature has verified, and 401/403 when it does not.
   */
  async function onCredentials(credentials: SigningCredentials) {
    api.useCredentials(credentials);
    try {
      try {
        await api.call('/v1/auth/token/lookup-self', TokenDescription);
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 400)) throw error;
      }
      setWho(`Access key: ${credentials.accessKeyId}`);
      setMinted(false);
      setSignedIn(true);
      setNotice({ kind: 'ok', text: 'Signed in.' });
    } catch (error) {
      api.forget();
      setNotice({ kind: 'error', text: `Sign-in failed: ${describeError(error)}` });
    }
  }

  async function onSignedIn(token: string, loggedIn: boolean) {
    api.useToken(token);
    try {
      const self = await api.call('/v1/auth/token/lookup-self', TokenDescription);
      setWho(`Policies: ${self.policies.length === 0 ? 'none' : self.policies.join(', ')}`);
      setMinted(loggedIn);
      setSignedIn(true);
      setNotice({ kind: 'ok', text: 'Signed in.' });
    } catch (error) {
      api.forget();
      setNotice({ kind: 'error', text: `Sign-in failed: ${describeError(error)}` });
    }
  }

  /**
   * A token the console logged in for is revoked: nobody else holds it, and a copy (a memory dump, a proxy log) is
   * then worth nothing. A token that was pasted in belongs to whoever pasted it (the CLI, a file, the root token) and
   * is only forgotten, as revoking it would cut off its other users.
   */
  async function signOut() {
    let revoked = false;
    if (minted) {
      try {
        await api.call('/v1/auth/token/revoke-self', z.unknown(), { method: 'POST' });
        revoked = true;
      } catch {
        // An expired token cannot be revoked, and needs not be; it is forgotten either way.
      }
    }
    api.forget();
    setSignedIn(false);
    setMinted(false);
    setWho('');
    setPage('secrets');
    setNotice({
      kind: 'ok',
      text: revoked ? 'Signed out: the token was revoked and forgotten.' : 'Signed out: the token was forgotten.',
    });
  }

  const View = PAGES[page].view;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Coffer</span>
        {signedIn ? (
          <div class="session">
            <span>{who}</span>
            <button type="button" onClick={() => void signOut()}>
              Sign out
            </button>
          </div>
        ) : null}
      </header>
      {signedIn ? (
        <nav aria-label="Console sections">
          <ul>
            {(Object.keys(PAGES) as PageName[]).map((name) => (
              <li key={name}>
                <button
                  type="button"
                  class="nav"
                  aria-current={page === name ? 'page' : undefined}
                  onClick={() => {
                    setNotice(undefined);
                    setPage(name);
                  }}
                >
                  {PAGES[name].title}
                </button>
              </li>
            ))}
          </ul>
        </nav>
      ) : null}
      <main id="main">
        <Status notice={notice} />
        {signedIn ? (
          <View key={page} api={api} notify={setNotice} />
        ) : (
          <SignIn
            api={api}
            signing={props.signing}
            onToken={onSignedIn}
            onCredentials={onCredentials}
            notify={setNotice}
          />
        )}
      </main>
    </>
  );
}
