// A retention rule picked by the user: keep forever, or N days (and, for one conversation,
// "as the global rule"). Applied with its button, so a half-typed number changes nothing.
import { useEffect, useState } from 'preact/hooks';
import type { Retention } from '../../messaging/archive-messages';
import { t } from '../i18n';

export const MAX_RETENTION_DAYS = 36_500;

type Choice = 'follow' | 'forever' | 'days';

/** The rule the controls say, or undefined when the number of days is not a whole 1…36,500. */
export function retentionFrom(choice: Choice, days: string): Retention | null | undefined {
  if (choice === 'follow') return null;
  if (choice === 'forever') return { keep: 'forever' };
  const n = Number(days);
  return Number.isInteger(n) && n >= 1 && n <= MAX_RETENTION_DAYS
    ? { keep: 'days', days: n }
    : undefined;
}

export function RetentionControl(props: {
  id: string;
  /** `archive-retention` (global) or `archive-retention-conversation`. */
  hook: string;
  label: string;
  /** Undefined on a conversation: it follows the global rule. */
  value: Retention | undefined;
  /** A conversation may follow the global rule. */
  canFollow?: boolean;
  busy: boolean;
  onApply(retention: Retention | null): void;
}) {
  const initial = (): [Choice, string] =>
    props.value === undefined
      ? ['follow', '']
      : props.value.keep === 'forever'
        ? ['forever', '']
        : ['days', String(props.value.days)];
  const [choice, setChoice] = useState<Choice>(() => initial()[0]);
  const [days, setDays] = useState(() => initial()[1]);
  const [error, setError] = useState(false);
  const key = JSON.stringify(props.value ?? null);
  useEffect(() => {
    const [c, d] = initial();
    setChoice(c);
    setDays(d);
    setError(false);
    // Only when the background's rule changed, not on every render.
  }, [key]);

  const apply = () => {
    const rule = retentionFrom(choice, days);
    setError(rule === undefined);
    if (rule !== undefined) props.onApply(rule);
  };
  return (
    <div class="retention-control" role="group" aria-labelledby={`${props.id}-label`}>
      <span id={`${props.id}-label`} class="retention-label">
        {props.label}
      </span>
      <select
        id={props.id}
        aria-labelledby={`${props.id}-label`}
        data-veil={props.hook}
        value={choice}
        onChange={(e) => setChoice(e.currentTarget.value as Choice)}
      >
        {props.canFollow && <option value="follow">{t('retention_follow')}</option>}
        <option value="forever">{t('retention_forever')}</option>
        <option value="days">{t('retention_days_option')}</option>
      </select>
      {choice === 'days' && (
        <input
          type="number"
          min={1}
          max={MAX_RETENTION_DAYS}
          step={1}
          inputMode="numeric"
          class="retention-days"
          aria-label={t('retention_days_label')}
          aria-invalid={error ? true : undefined}
          data-veil={`${props.hook}-days`}
          value={days}
          onInput={(e) => setDays(e.currentTarget.value)}
        />
      )}
      <button
        type="button"
        class="button secondary"
        data-veil={`${props.hook}-apply`}
        aria-disabled={props.busy ? true : undefined}
        onClick={props.busy ? undefined : apply}
      >
        {t('retention_apply')}
      </button>
      {error && (
        <p class="field-error" role="alert">
          {t('retention_days_invalid', String(MAX_RETENTION_DAYS))}
        </p>
      )}
    </div>
  );
}
