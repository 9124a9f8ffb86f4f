import { useEffect, useState } from 'preact/hooks';
import { PolicyDocument, PolicyNames, PolicyTestResult } from '../../api/policies.ts';
import { describeError, Field, PageHeading, type PageProps, Select, useLoad } from '../components.tsx';

const CAPABILITIES = ['read', 'create', 'update', 'delete', 'list', 'rotate', 'sudo'] as const;
/** The policy test runs this long after the last keystroke, so typing a path is not a request per character. */
const TEST_DEBOUNCE_MS = 250;

export function PoliciesPage({ api, notify }: PageProps) {
  const names = useLoad(() => api.call('/v1/sys/policies', PolicyNames), []);
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const [name, setName] = useState('');
  const [document, setDocument] = useState('{\n  "rules": [{ "path": "secrets/app/*", "capabilities": ["read"] }]\n}');

  useEffect(() => {
    if (selected === undefined) return;
    api.call(`/v1/sys/policies/${encodeURIComponent(selected)}`, PolicyDocument).then(
      (policy) => {
        setName(policy.name);
        const { name: _name, ...rest } = policy;
        setDocument(JSON.stringify(rest, null, 2));
      },
      (error: unknown) => notify({ kind: 'error', text: describeError(error) }),
    );
  }, [selected, api, notify]);

  async function save(event: Event) {
    event.preventDefault();
    let parsed: unknown;
    try {
      parsed = JSON.parse(document);
    } catch {
      notify({ kind: 'error', text: 'The policy document is not valid JSON.' });
      return;
    }
    try {
      await api.call(`/v1/sys/policies/${encodeURIComponent(name)}`, PolicyDocument, { method: 'PUT', body: parsed });
      notify({ kind: 'ok', text: `Saved policy ${name}.` });
      names.reload();
    } catch (error) {
      notify({ kind: 'error', text: `Could not save ${name}: ${describeError(error)}` });
    }
  }

  return (
    <section aria-labelledby="policies-heading">
      <PageHeading>
        <span id="policies-heading">Policies</span>
      </PageHeading>
      <div class="columns">
        <div class="card">
          <h2>Policies</h2>
          {names.error === undefined ? null : <p class="error">{names.error}</p>}
          <ul class="entries" aria-label="Policies">
            {(names.data?.policies ?? []).map((policy) => (
              <li key={policy}>
                <button
                  type="button"
                  class="link"
                  aria-pressed={selected === policy}
                  onClick={() => setSelected(policy)}
                >
                  {policy}
                </button>
              </li>
            ))}
          </ul>
          <form class="sub" onSubmit={(event) => void save(event)} aria-labelledby="policy-edit-heading">
            <h3 id="policy-edit-heading">Edit or create</h3>
            <Field id="policy-name" label="Policy name" value={name} onInput={setName} required />
            <Field id="policy-document" label="Document (JSON)" value={document} onInput={setDocument} multiline />
            <button type="submit">Save policy</button>
          </form>
        </div>
        <PolicyTest {...{ api, notify }} />
      </div>
    </section>
  );
}

/** Asks the server how a request would be decided, as the fields change (`POST /v1/sys/policy-test`). */
function PolicyTest({ api }: PageProps) {
  const [path, setPath] = useState('secrets/app/db');
  const [capability, setCapability] = useState<string>('read');
  const [policies, setPolicies] = useState('');
  const [result, setResult] = useState<PolicyTestResult | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);

  useEffect(() => {
    if (path.trim() === '') return;
    const timer = setTimeout(() => {
      const named = policies
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== '');
      api
        .call('/v1/sys/policy-test', PolicyTestResult, {
          method: 'POST',
          body: { path: path.trim(), capability, ...(named.length === 0 ? {} : { policies: named }) },
        })
        .then(
          (decided) => {
            setResult(decided);
            setError(undefined);
          },
          (failed: unknown) => {
            setResult(undefined);
            setError(describeError(failed));
          },
        );
    }, TEST_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [path, capability, policies, api]);

  return (
    <section class="card" aria-labelledby="policy-test-heading">
      <h2 id="policy-test-heading">Policy test</h2>
      <Field id="test-path" label="Path" value={path} onInput={setPath} hint="A policy path, e.g. secrets/app/db" />
      <Select
        id="test-capability"
        label="Capability"
        value={capability}
        options={CAPABILITIES.map((c) => [c, c] as const)}
        onChange={setCapability}
      />
      <Field
        id="test-policies"
        label="Policies (comma-separated)"
        value={policies}
        onInput={setPolicies}
        hint="Empty: your own policies"
      />
      <div aria-live="polite" class="decision">
        {error === undefined ? null : <p class="error">{error}</p>}
        {result === undefined ? null : (
          <>
            <p class={result.allowed ? 'allowed' : 'denied'}>
              <strong>{result.allowed ? 'Allowed' : 'Denied'}</strong>: {result.reason}
            </p>
            {result.decidedBy === undefined ? null : (
              <p>
                Decided by {result.decidedBy.policy} rule {result.decidedBy.rule} ({result.decidedBy.path})
              </p>
            )}
          </>
        )}
      </div>
    </section>
  );
}
