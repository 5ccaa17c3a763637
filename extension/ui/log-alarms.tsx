// The loud alarms about the directory's log (popup and options page): an entry for our handle
// that we did not make, or a directory showing different logs to different people. They stay
// until the person dismisses them; each says which entry, when, and the key's fingerprint.
import { useEffect, useState } from 'preact/hooks';
import { sendMessage } from '../messaging/client';
import type { LogAlarmView } from '../messaging/messages';
import { FingerprintHalf } from './digits';
import { Button } from './fields';
import { t, type MessageKey } from './i18n';
import { Notice } from './notice';
import { useAction } from './use-action';

const ENTRY_TEXT: Record<Extract<LogAlarmView, { kind: 'foreign-entry' }>['reason'], MessageKey> = {
  'foreign-key': 'log_alarm_foreign_key',
  'unexpected-rotate': 'log_alarm_unexpected_rotate',
  'unexpected-delete': 'log_alarm_unexpected_delete',
  'unexpected-devices': 'log_alarm_unexpected_devices',
};

const when = (ms: number) => new Date(ms).toLocaleString();

function alarmText(a: LogAlarmView): string {
  if (a.kind === 'foreign-entry')
    return t(ENTRY_TEXT[a.reason], [a.directoryUrl, a.handle, String(a.index), when(a.loggedAt)]);
  return t(a.reason === 'withheld' ? 'log_alarm_withheld' : 'log_alarm_split', [
    a.directoryUrl,
    String(a.treeSizes[0]),
    String(a.treeSizes[1]),
    when(a.raisedAt),
  ]);
}

/**
 * The alarms the person has not dismissed, fetched when shown (give it a new `key` to fetch
 * again); nothing at all when there are none.
 */
export function LogAlarms() {
  const [alarms, setAlarms] = useState<LogAlarmView[]>([]);
  const action = useAction();
  const { run } = action;
  useEffect(() => {
    void (async () => {
      const reply = await run(() => sendMessage({ type: 'logAlarms' }));
      if (reply) setAlarms(reply.alarms);
    })();
  }, [run]);
  const dismiss = async (id: string) => {
    const reply = await run(() => sendMessage({ type: 'dismissLogAlarm', id }));
    if (reply) setAlarms(reply.alarms);
  };
  if (alarms.length === 0) return null;
  return (
    <section class="alert log-alarms" role="alert" aria-labelledby="log-alarms-title">
      <h2 id="log-alarms-title">{t('log_alarm_title')}</h2>
      <ul>
        {alarms.map((a) => (
          <li key={a.id} data-veil="log-alarm" data-veil-kind={a.kind}>
            <p>{alarmText(a)}</p>
            {a.kind === 'foreign-entry' && a.reason !== 'unexpected-devices' && (
              <FingerprintHalf digits={a.fingerprint} />
            )}
            <p>{t('log_alarm_advice')}</p>
            <Button hook="dismiss-log-alarm" busy={action.busy} onClick={() => void dismiss(a.id)}>
              {t('log_alarm_dismiss')}
            </Button>
          </li>
        ))}
      </ul>
      <Notice notice={action.notice} />
    </section>
  );
}
