import { useEffect, useState } from 'preact/hooks';
import { LoginMethods, LoginResponse } from '../../api/auth.ts';
import type { CofferApi, SigningCredentials } from '../api-client.ts';
import { describeError, Field, type Notice, PageHeading, Select } from '../components.tsx';
import { CREDENTIALS_SIGN_IN, defaultSignInMethod, TOKEN_SIGN_IN } from '../sign-in-method.ts';

/** The fields each method's login takes (the names `POST /v1/auth/<mount>/login` reads). */
const METHOD_FIELDS: Record<string, readonly (readonly [field: string, label: string, secret: boolean])[]> = {
  approle: [
    ['role_id', 'Role ID', false],
    ['secret_id', 'Secret ID', true],
  ],
  ldap: [
    ['username', 'Username', false],
    ['password', 'Password', true],
  ],
  jwt: [
    ['role', 'Role', false],
    ['jwt', 'JWT', true],
  ],
  kubernetes: [
    ['role', 'Role', false],
    ['jwt', 'Service account token', true],
  ],
  cert: [['name', 'Certificate role (optional)', false]],
};

const TOKEN = TOKEN_SIGN_IN;

/** What `aws configure export-credentials` prints (or a Coffer access key, which has no session token). */
const CREDENTIAL_FIELDS: readonly (readonly [field: string, label: string, secret: boolean, required: boolean])[] = [
  ['accessKeyId', 'Access key ID', false, true],
  ['secretAccessKey', 'Secret access key', true, true],
  ['sessionToken', 'Session token (optional)', true, false],
];
const CREDENTIALS = CREDENTIALS_SIGN_IN;

/** The region and signing name the credentials are scoped to, from `config.json` (the region may be changed). */
export interface SigningDefaults {
  readonly region: string;
  readonly service: string;
}

/**
 * Sign in with a token, or through any enabled login mount. Whatever is typed stays in this form's state until it is
 * sent in a request body (never a URL), and the form is cleared once it has been.
 */
export function SignIn(props: {
  readonly api: CofferApi;
  /** `loggedIn`: the token comes from a login made here (the console owns it), not from the user. */
  readonly onToken: (token: string, loggedIn: boolean) => Promise<void>;
  readonly signing: SigningDefaults;
  /** The credentials sign every request from then on (SigV4); they stay in memory only. */
  readonly onCredentials: (credentials: SigningCredentials) => Promise<void>;
  readonly notify: (notice: Notice) => void;
}) {
  const { api } = props;
  const [mounts, setMounts] = useState<readonly { path: string; type: string }[]>([]);
  const [mount, setMount] = useState(defaultSignInMethod(props.signing));
  const [token, setToken] = useState('');
  const [fields, setFields] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [region, setRegion] = useState(props.signing.region);

  useEffect(() => {
    api.call('/v1/sys/login-methods', LoginMethods).then(
      (listed) => setMounts(listed.methods.filter((m) => METHOD_FIELDS[m.type] !== undefined)),
      () => setMounts([]),
    );
  }, [api]);

  const chosen = mounts.find((m) => m.path === mount);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    try {
      if (mount === CREDENTIALS) {
        const sessionToken = (fields.sessionToken ?? '').trim();
        await props.onCredentials({
          accessKeyId: (fields.accessKeyId ?? '').trim(),
          secretAccessKey: (fields.secretAccessKey ?? '').trim(),
          ...(sessionToken !== '' && { sessionToken }),
          region: region.trim(),
          service: props.signing.service,
        });
      } else if (chosen === undefined) {
        await props.onToken(token.trim(), false);
      } else {
        const body = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== ''));
        const answer = await api.call(`/v1/auth/${encodeURIComponent(chosen.path)}/login`, LoginResponse, {
          method: 'POST',
          body,
        });
        await props.onToken(answer.auth.client_token, true);
      }
    } catch (error) {
      props.notify({ kind: 'error', text: `Sign-in failed: ${describeError(error)}` });
    } finally {
      setToken('');
      setFields({});
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="sign-in-heading" class="card narrow">
      <PageHeading>
        <span id="sign-in-heading">Sign in to Coffer</span>
      </PageHeading>
      <form onSubmit={(event) => void submit(event)}>
        <Select
          id="sign-in-method"
          label="Method"
          value={mount}
          onChange={(value) => {
            setMount(value);
            setFields({});
          }}
          options={[
            [TOKEN, 'Token'],
            [CREDENTIALS, 'AWS credentials (SigV4)'],
            ...mounts.map((m) => [m.path, `${m.type} (${m.path}/)`] as const),
          ]}
        />
        {mount === CREDENTIALS ? (
          <>
            {CREDENTIAL_FIELDS.map(([field, label, secret, required]) => (
              <Field
                key={field}
                id={`sign-in-${field}`}
                label={label}
                type={secret ? 'password' : 'text'}
                value={fields[field] ?? ''}
                onInput={(value) => setFields({ ...fields, [field]: value })}
                autoComplete="off"
                required={required}
              />
            ))}
            <Field id="sign-in-region" label="Region" value={region} onInput={setRegion} autoComplete="off" required />
          </>
        ) : chosen === undefined ? (
          <Field id="sign-in-token" label="Token" type="password" value={token} onInput={setToken} required />
        ) : (
          (METHOD_FIELDS[chosen.type] ?? []).map(([field, label, secret]) => (
            <Field
              key={field}
              id={`sign-in-${field}`}
              label={label}
              type={secret ? 'password' : 'text'}
              value={fields[field] ?? ''}
              onInput={(value) => setFields({ ...fields, [field]: value })}
              autoComplete={field === 'username' ? 'username' : secret ? 'current-password' : 'off'}
            />
          ))
        )}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </section>
  );
}
