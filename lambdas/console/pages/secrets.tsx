import { useState } from 'preact/hooks';
import * as z from 'zod';
import { Rotation, RotationConfig, RotationStarted } from '../../api/rotation.ts';
import {
  SecretCreated,
  SecretDescribed,
  SecretList,
  SecretRead,
  SecretVersions,
  SecretWritten,
} from '../../api/secrets.ts';
import { ApiError, namePath } from '../api-client.ts';
import { describeError, Field, formatTime, PageHeading, type PageProps, Select, useLoad } from '../components.tsx';

/** Rotation types a secret's own value can be rotated with from here, without settings naming other secrets. */
const ROTATION_TYPES = [['api-key-coffer', 'api-key-coffer (keys Coffer issues)']] as const;

/** How often a started rotation is looked at until it ends, and for how long. */
const ROTATION_POLL_MS = 500;
const ROTATION_POLL_TRIES = 120;

export function SecretsPage({ api, notify }: PageProps) {
  const [prefix, setPrefix] = useState('');
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const list = useLoad(
    () => api.call(prefix === '' ? '/v1/secret/list' : `/v1/secret/list/${namePath(prefix)}`, SecretList),
    [prefix],
  );
  const parent = prefix.replace(/[^/]*\/$/, '');

  return (
    <section aria-labelledby="secrets-heading">
      <PageHeading>
        <span id="secrets-heading">Secrets</span>
      </PageHeading>
      <div class="columns">
        <div class="card">
          <h2>Browse {prefix === '' ? '(all)' : prefix}</h2>
          {prefix === '' ? null : (
            <button type="button" onClick={() => setPrefix(parent)}>
              Up to {parent === '' ? 'the top' : parent}
            </button>
          )}
          {list.error === undefined ? null : <p class="error">{list.error}</p>}
          <ul class="entries" aria-label="Secrets and folders">
            {(list.data?.entries ?? []).map((entry) => (
              <li key={entry.name}>
                {entry.kind === 'folder' ? (
                  <button type="button" class="link" onClick={() => setPrefix(entry.name)}>
                    <span class="kind">folder</span> {entry.name}
                  </button>
                ) : (
                  <button
                    type="button"
                    class="link"
                    aria-pressed={selected === entry.name}
                    onClick={() => setSelected(entry.name)}
                  >
                    {entry.name}
                  </button>
                )}
              </li>
            ))}
          </ul>
          {list.data?.entries.length === 0 ? <p>No secrets here.</p> : null}
          <CreateSecret
            key={prefix}
            prefix={prefix}
            api={api}
            notify={notify}
            onCreated={(name) => {
              list.reload();
              setSelected(name);
            }}
          />
        </div>
        {selected === undefined ? null : <SecretDetail key={selected} name={selected} api={api} notify={notify} />}
      </div>
    </section>
  );
}

function CreateSecret(props: PageProps & { readonly prefix: string; readonly onCreated: (name: string) => void }) {
  const [name, setName] = useState(props.prefix);
  const [value, setValue] = useState('');
  const [description, setDescription] = useState('');

  async function submit(event: Event) {
    event.preventDefault();
    try {
      const created = await props.api.call('/v1/secrets', SecretCreated, {
        method: 'POST',
        body: { name, value, ...(description === '' ? {} : { description }) },
      });
      props.notify({ kind: 'ok', text: `Created ${created.name}.` });
      setValue('');
      setDescription('');
      props.onCreated(created.name);
    } catch (error) {
      props.notify({ kind: 'error', text: `Could not create ${name}: ${describeError(error)}` });
    }
  }

  return (
    <form class="sub" onSubmit={(event) => void submit(event)} aria-labelledby="create-secret-heading">
      <h3 id="create-secret-heading">New secret</h3>
      <Field id="new-secret-name" label="Name" value={name} onInput={setName} required hint="e.g. app/db/password" />
      <Field id="new-secret-value" label="Value" type="password" value={value} onInput={setValue} required />
      <Field id="new-secret-description" label="Description" value={description} onInput={setDescription} />
      <button type="submit">Create secret</button>
    </form>
  );
}

function SecretDetail(props: PageProps & { readonly name: string }) {
  const { api, notify, name } = props;
  const path = namePath(name);
  const described = useLoad(() => api.call(`/v1/secret/metadata/${path}`, SecretDescribed), [name]);
  const versions = useLoad(() => api.call(`/v1/secret/versions/${path}`, SecretVersions), [name]);
  const rotation = useLoad(
    () =>
      api.call(`/v1/rotation/configs/${path}`, RotationConfig).catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 404) return null;
        throw error;
      }),
    [name],
  );
  const history = useLoad(
    () => api.call('/v1/rotation/rotations', z.object({ rotations: z.array(Rotation) }), { query: { secretId: name } }),
    [name],
  );
  /** Revealed values by version id: held only while shown, dropped on "Hide". */
  const [revealed, setRevealed] = useState<Record<string, string>>({});
  const [newValue, setNewValue] = useState('');
  const [rotationType, setRotationType] = useState<string>(ROTATION_TYPES[0][0]);
  const [afterDays, setAfterDays] = useState('30');
  const [busy, setBusy] = useState(false);

  function refresh() {
    described.reload();
    versions.reload();
    rotation.reload();
    history.reload();
  }

  async function reveal(versionId: string) {
    try {
      // Every reveal is a read of the version through the API, so it is authorised and audited like any other.
      const read = await api.call(`/v1/secret/data/${path}`, SecretRead, { query: { versionId } });
      setRevealed((shown) => ({
        ...shown,
        [versionId]: read.value ?? `(binary, ${read.binary?.length ?? 0} base64 chars)`,
      }));
      notify({ kind: 'ok', text: `Revealed version ${versionId}; the read was audited.` });
    } catch (error) {
      notify({ kind: 'error', text: `Could not reveal: ${describeError(error)}` });
    }
  }

  function hide(versionId: string) {
    setRevealed(({ [versionId]: _dropped, ...rest }) => rest);
    notify({ kind: 'ok', text: `Hid version ${versionId}.` });
  }

  async function writeValue(event: Event) {
    event.preventDefault();
    try {
      const written = await api.call(`/v1/secret/data/${path}`, SecretWritten, {
        method: 'PUT',
        body: { value: newValue },
      });
      setNewValue('');
      notify({ kind: 'ok', text: `Saved version ${written.versionId} (${written.versionStages.join(', ')}).` });
      refresh();
    } catch (error) {
      notify({ kind: 'error', text: `Could not save: ${describeError(error)}` });
    }
  }

  async function configureRotation(event: Event) {
    event.preventDefault();
    try {
      await api.call(`/v1/rotation/configs/${path}`, RotationConfig.passthrough(), {
        method: 'PUT',
        body: { type: rotationType, rules: { automaticallyAfterDays: Number(afterDays) } },
      });
      notify({ kind: 'ok', text: `Rotation configured: ${rotationType}, every ${afterDays} days.` });
      rotation.reload();
    } catch (error) {
      notify({ kind: 'error', text: `Could not configure rotation: ${describeError(error)}` });
    }
  }

  async function rotateNow() {
    setBusy(true);
    try {
      const started = await api.call('/v1/rotation/rotate', RotationStarted, {
        method: 'POST',
        body: { secretId: name },
      });
      notify({ kind: 'ok', text: `Rotation ${started.rotationId} started.` });
      let ended: Rotation | undefined;
      for (let attempt = 0; attempt < ROTATION_POLL_TRIES && ended === undefined; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, ROTATION_POLL_MS));
        const got = await api.call(`/v1/rotation/rotations/${encodeURIComponent(started.rotationId)}`, Rotation);
        if (got.status === 'succeeded' || got.status === 'failed') ended = got;
      }
      notify(
        ended === undefined
          ? { kind: 'ok', text: `Rotation ${started.rotationId} is still running.` }
          : ended.status === 'succeeded'
            ? { kind: 'ok', text: `Rotation succeeded: version ${ended.versionId} is current.` }
            : { kind: 'error', text: `Rotation failed: ${ended.error ?? 'no reason given'}` },
      );
      refresh();
    } catch (error) {
      notify({ kind: 'error', text: `Could not rotate: ${describeError(error)}` });
    } finally {
      setBusy(false);
    }
  }

  const stagesOf = described.data?.versionIdsToStages ?? {};
  return (
    <section class="card" aria-labelledby="secret-detail-heading">
      <h2 id="secret-detail-heading">{name}</h2>
      {described.error === undefined ? null : <p class="error">{described.error}</p>}
      {described.data === undefined ? null : (
        <dl class="facts">
          <dt>Description</dt>
          <dd>{described.data.description || '—'}</dd>
          <dt>Updated</dt>
          <dd>{formatTime(described.data.updatedAt)}</dd>
          <dt>Tags</dt>
          <dd>
            {Object.entries(described.data.tags)
              .map(([k, v]) => `${k}=${v}`)
              .join(', ') || '—'}
          </dd>
        </dl>
      )}
      <table>
        <caption>Versions</caption>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Staging labels</th>
            <th scope="col">Created</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {(versions.data?.versions ?? []).map((version) => {
            const shown = revealed[version.versionId];
            const stages = stagesOf[version.versionId] ?? version.versionStages;
            return (
              <tr key={version.versionId}>
                <td>
                  <code>{version.versionId}</code>
                </td>
                <td>{stages.join(', ') || '—'}</td>
                <td>{formatTime(version.createdAt)}</td>
                <td>
                  {shown === undefined ? (
                    <button
                      type="button"
                      onClick={() => void reveal(version.versionId)}
                      aria-label={`Reveal version ${version.versionId}`}
                    >
                      Reveal
                    </button>
                  ) : (
                    <>
                      <pre class="value" data-version={version.versionId}>
                        {shown}
                      </pre>
                      <button
                        type="button"
                        onClick={() => hide(version.versionId)}
                        aria-label={`Hide version ${version.versionId}`}
                      >
                        Hide
                      </button>
                    </>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <form class="sub" onSubmit={(event) => void writeValue(event)} aria-labelledby="update-heading">
        <h3 id="update-heading">Update value</h3>
        <Field
          id="secret-new-value"
          label="New value"
          type="password"
          value={newValue}
          onInput={setNewValue}
          required
        />
        <button type="submit">Save new version</button>
      </form>
      <div class="sub">
        <h3>Rotation</h3>
        {rotation.data === null ? <p>No rotation configured.</p> : null}
        {rotation.data ? (
          <dl class="facts">
            <dt>Type</dt>
            <dd>{rotation.data.type}</dd>
            <dt>Last rotated</dt>
            <dd>
              {formatTime(rotation.data.lastRotatedAt)} {rotation.data.lastStatus ?? ''}
            </dd>
            <dt>Next rotation</dt>
            <dd>{formatTime(rotation.data.nextRotationAt)}</dd>
          </dl>
        ) : null}
        <p class="hint">
          api-key-coffer keeps the key it issues (keyId, apiKey) in the value, which must be a JSON object.
        </p>
        <form onSubmit={(event) => void configureRotation(event)} aria-label="Configure rotation">
          <Select
            id="rotation-type"
            label="Rotation type"
            value={rotationType}
            options={ROTATION_TYPES}
            onChange={setRotationType}
          />
          <Field
            id="rotation-after-days"
            label="Rotate every (days)"
            type="number"
            value={afterDays}
            onInput={setAfterDays}
          />
          <button type="submit">Configure rotation</button>
        </form>
        <button type="button" disabled={busy || !rotation.data} onClick={() => void rotateNow()}>
          Rotate now
        </button>
        <table>
          <caption>Rotation history</caption>
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Trigger</th>
              <th scope="col">Status</th>
              <th scope="col">New version</th>
            </tr>
          </thead>
          <tbody>
            {(history.data?.rotations ?? []).map((r) => (
              <tr key={r.rotationId}>
                <td>{formatTime(r.startedAt)}</td>
                <td>{r.trigger}</td>
                <td>{r.status}</td>
                <td>
                  <code>{r.versionId}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
