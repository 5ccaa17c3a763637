// The pinned directory key as a short fingerprint (Settings), for comparing with the key the
// directory's own page shows, and how the log monitor for our handle last went ("check now").
import { useEffect, useState } from 'preact/hooks';
import { sendMessage } from '../messaging/client';
import type { DirectoryKeyView, LogCheckResult } from '../messaging/messages';
import { Button } from './fields';
import { t } from './i18n';
import { Notice } from './notice';
import { useAction } from './use-action';

const when = (ms: number) => new Date(ms).toLocaleString();

function checkText(result: LogCheckResult): { kind: 'success' | 'error'; text: string } {
  switch (result.status) {
    case 'checked':
      return result.newAlarms > 0
        ? { kind: 'error', text: t('log_check_alarm') }
        : { kind: 'success', text: t('log_check_done') };
    case 'not-published':
      return { kind: 'error', text: t('log_check_not_published') };
    case 'unchecked':
      return { kind: 'error', text: t('log_check_unchecked', result.code) };
    case 'refused':
      return { kind: 'error', text: t('log_check_refused', result.message) };
  }
}

/** `onChecked` runs after "check now", so the page can show alarms it raised. */
export function DirectoryKey(props: { directoryUrl: string; onChecked(): void }) {
  const [view, setView] = useState<DirectoryKeyView | null>(null);
  const action = useAction();
  const { run } = action;
  const load = async () => {
    const reply = await run(() => sendMessage({ type: 'directoryKey' }));
    if (reply) setView(reply);
  };
  // Again when the URL changes: another directory has another (or no) pinned key.
  useEffect(() => void load(), [props.directoryUrl]);
  const checkNow = async () => {
    const reply = await run(() => sendMessage({ type: 'checkLog' }));
    if (!reply) return;
    props.onChecked();
    action.setNotice(checkText(reply.result));
    const next = await sendMessage({ type: 'directoryKey' }).catch(() => undefined);
    if (next) setView(next);
  };
  if (!view) return <Notice notice={action.notice} />;
  const monitor = view.monitor;
  return (
    <div class="directory-key">
      <h3>{t('directory_key_label')}</h3>
      {view.pinned ? (
        <>
          <p>
            <code data-veil="directory-key">{view.pinned.fingerprint}</code>{' '}
            <span class="muted">({view.pinned.origin})</span>
          </p>
          <p class="muted">{t('directory_key_explain')}</p>
        </>
      ) : (
        <p class="muted">{t('directory_key_not_pinned')}</p>
      )}
      {monitor && (
        <p class="muted" data-veil="log-monitor-status">
          {monitor.failure && (monitor.checkedAt ?? 0) < monitor.failure.at
            ? t('log_monitor_failed', [monitor.failure.code, when(monitor.failure.at)])
            : monitor.checkedAt !== undefined
              ? t('log_monitor_checked', [when(monitor.checkedAt), String(monitor.treeSize)])
              : ''}
        </p>
      )}
      <div class="actions">
        <Button hook="check-log" busy={action.busy} onClick={() => void checkNow()}>
          {t('log_check_now')}
        </Button>
      </div>
      <Notice notice={action.notice} />
    </div>
  );
}
