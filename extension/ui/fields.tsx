// Labelled form controls: the label, hint and error are tied to the input (for/id,
// aria-describedby, aria-invalid) so assistive technology reads them together.
import type { ComponentChildren, Ref } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

export interface TextFieldProps {
  id: string;
  label: string;
  value: string;
  onInput(value: string): void;
  hint?: string;
  error?: string | null;
  /** The `data-veil` test hook. */
  hook?: string;
  type?: 'text' | 'password' | 'url' | 'search';
  autoComplete?: string;
  maxLength?: number;
  placeholder?: string;
  inputRef?: Ref<HTMLInputElement>;
  multiline?: boolean;
}

export function TextField(props: TextFieldProps) {
  const hintId = props.hint ? `${props.id}-hint` : undefined;
  const errorId = props.error ? `${props.id}-error` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(' ') || undefined;
  const shared = {
    id: props.id,
    value: props.value,
    'data-veil': props.hook,
    'aria-describedby': describedBy,
    'aria-invalid': props.error ? true : undefined,
    maxLength: props.maxLength,
    placeholder: props.placeholder,
    spellcheck: false,
    autoCapitalize: 'none',
  } as const;
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.multiline ? (
        <textarea {...shared} rows={3} onInput={(e) => props.onInput(e.currentTarget.value)} />
      ) : (
        <input
          {...shared}
          ref={props.inputRef}
          type={props.type ?? 'text'}
          autoComplete={props.autoComplete ?? 'off'}
          onInput={(e) => props.onInput(e.currentTarget.value)}
        />
      )}
      {hintId && (
        <p class="hint" id={hintId}>
          {props.hint}
        </p>
      )}
      {errorId && (
        <p class="field-error" id={errorId}>
          {props.error}
        </p>
      )}
    </div>
  );
}

/** A submit or action button that stays focusable while busy (aria-disabled, not disabled). */
export function Button(props: {
  children: ComponentChildren;
  onClick?: () => void;
  type?: 'button' | 'submit';
  variant?: 'primary' | 'secondary' | 'danger' | 'quiet';
  busy?: boolean;
  hook?: string;
}) {
  return (
    <button
      type={props.type ?? 'button'}
      class={`button ${props.variant ?? 'secondary'}`}
      data-veil={props.hook}
      aria-disabled={props.busy ? true : undefined}
      aria-busy={props.busy ? true : undefined}
      onClick={props.busy ? undefined : props.onClick}
    >
      {props.children}
    </button>
  );
}

/** A screen's heading; it takes focus when the screen opens so keyboard and reader users land there. */
export function ScreenTitle({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}
