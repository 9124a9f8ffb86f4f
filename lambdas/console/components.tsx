import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type CofferApi } from './api-client.ts';

/** What every page of the console is given: the API (holding the token) and the status line. */
export interface PageProps {
  readonly api: CofferApi;
  readonly notify: (notice: Notice) => void;
}

/** A labelled input: every control has a visible label tied to it. */
export function Field(props: {
  readonly id: string;
  readonly label: string;
  readonly value: string;
  readonly onInput: (value: string) => void;
  readonly type?: 'text' | 'password' | 'number';
  readonly multiline?: boolean;
  readonly required?: boolean;
  readonly hint?: string;
  readonly autoComplete?: string;
}) {
  const describedBy = props.hint === undefined ? undefined : `${props.id}-hint`;
  const common = {
    id: props.id,
    value: props.value,
    required: props.required,
    'aria-describedby': describedBy,
    autoComplete: props.autoComplete ?? 'off',
    spellcheck: false,
    onInput: (event: Event) => props.onInput((event.currentTarget as HTMLInputElement | HTMLTextAreaElement).value),
  };
  // Preact types each `type` of input apart; the three used here take the same attributes.
  const type = (props.type ?? 'text') as 'text';
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.multiline === true ? <textarea rows={4} {...common} /> : <input type={type} {...common} />}
      {props.hint === undefined ? null : (
        <small id={describedBy} class="hint">
          {props.hint}
        </small>
      )}
    </div>
  );
}

export function Select(props: {
  readonly id: string;
  readonly label: string;
  readonly value: string;
  readonly options: readonly (readonly [string, string])[];
  readonly onChange: (value: string) => void;
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={(event) => props.onChange(event.currentTarget.value)}>
        {props.options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

/** What went wrong, in words: the API's own message for 4xx, nothing more for 5xx. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (${error.status})`;
  return 'the request failed';
}

export interface Notice {
  readonly kind: 'ok' | 'error';
  readonly text: string;
}

/** Status messages are announced by screen readers without taking focus (`aria-live`). */
export function Status(props: { readonly notice: Notice | undefined }) {
  const notice = props.notice;
  return (
    <div
      class={notice === undefined ? 'status' : `status status-${notice.kind}`}
      role={notice?.kind === 'error' ? 'alert' : 'status'}
      aria-live={notice?.kind === 'error' ? 'assertive' : 'polite'}
    >
      {notice?.text ?? ''}
    </div>
  );
}

/** Runs `load` on mount (and when `deps` change); the error becomes a notice. */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
): { data: T | undefined; error: string | undefined; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  // The caller names what the load depends on (`deps`).
  useEffect(() => {
    let live = true;
    setError(undefined);
    load().then(
      (loaded) => live && setData(loaded),
      (failed: unknown) => live && setError(describeError(failed)),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((n) => n + 1) };
}

/** A page's heading, focused when the page opens so keyboard and screen-reader users start at its top. */
export function PageHeading(props: { readonly children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <h1 tabIndex={-1} ref={ref}>
      {props.children}
    </h1>
  );
}

export function formatTime(iso: string | undefined): string {
  if (iso === undefined) return '—';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
