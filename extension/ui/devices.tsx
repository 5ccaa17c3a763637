// Your devices (Settings) and linking a new browser to your account (onboarding): the browser
// holding the account key shows a short-lived code; the new one pastes it and waits for the
// answer. Both sides poll the background, which polls the directory's link relay.
import { useEffect, useState } from 'preact/hooks';
import { sendMessage } from '../messaging/client';
import type { DevicesView, LinkState } from '../messaging/messages';
import { Button, TextField } from './fields';
import { t } from './i18n';
import { Notice } from './notice';
import { QrCode } from './qr-code';
import { useAction } from './use-action';

// Both browsers often share one address, and the relay allows 60 calls a minute per address.
const POLL_MS = 3000;

function when(ms: number): string {
  return new Date(ms).toLocaleString();
}

/** The account's devices, with "link a new browser" and "unlink" where this browser may. */
export function DeviceList(props: { compact?: boolean }) {
  const [view, setView] = useState<DevicesView | null>(null);
  const [code, setCode] = useState<{ code: string; expiresAt: number } | null>(null);
  const [linked, setLinked] = useState<number | null>(null);
  const [asking, setAsking] = useState<string | null>(null);
  const action = useAction();
  const load = () => sendMessage({ type: 'listDevices' }).then(setView, () => setView(null));
  useEffect(() => void load(), []);

  // While a code is shown, ask whether the new browser answered it.
  useEffect(() => {
    if (!code) return;
    const timer = setInterval(() => {
      void sendMessage({ type: 'linkStatus' }).then(
        (s: LinkState) => {
          if (s.state === 'confirm') {
            setAsking(s.fingerprint);
            setCode(null);
          } else if (s.state === 'none') setCode(null);
        },
        (error: unknown) => {
          setCode(null);
          action.setNotice({ kind: 'error', text: String((error as Error).message ?? error) });
        },
      );
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [code]);

  if (!view) return null;
  const start = async () => {
    setLinked(null);
    const shown = await action.run(() => sendMessage({ type: 'startLink' }));
    if (shown) setCode(shown);
  };
  const answer = async (accept: boolean) => {
    const s = await action.run(() => sendMessage({ type: 'confirmLink', accept }));
    setAsking(null);
    if (s?.state === 'linked') {
      setLinked(s.deviceId);
      void load();
    }
  };
  const remove = async (deviceId: number) => {
    const next = await action.run(() => sendMessage({ type: 'removeDevice', deviceId }));
    if (next) setView(next);
  };
  const holder = view.devices.find((d) => d.id === 1);
  return (
    <section class="panel" aria-labelledby="devices-title" data-veil="devices">
      <h2 id="devices-title">{t('devices_title')}</h2>
      {!props.compact && <p>{t('devices_intro')}</p>}
      <ul class="device-list" data-veil="device-list">
        {view.devices.map((d) => (
          <li key={d.id} data-veil="device" data-device-id={String(d.id)}>
            <strong>#{d.id}</strong> <code>{d.fingerprint.slice(0, 10)}</code>{' '}
            {d.thisDevice ? (
              <em>{t('devices_this')}</em>
            ) : (
              <span data-veil="device-seen">
                {d.lastSeen !== undefined
                  ? t('devices_last_seen', when(d.lastSeen))
                  : t('devices_never_seen')}
              </span>
            )}{' '}
            <span class="muted">{t('devices_added', when(d.addedAt))}</span>
            {!props.compact && view.holdsAccountKey && !d.thisDevice && (
              <Button variant="quiet" hook="remove-device" onClick={() => void remove(d.id)}>
                {t('devices_remove')}
              </Button>
            )}
          </li>
        ))}
      </ul>
      {!props.compact &&
        (view.holdsAccountKey ? (
          <div class="actions">
            <Button hook="link-device" busy={action.busy} onClick={() => void start()}>
              {t('devices_link_new')}
            </Button>
          </div>
        ) : (
          <p class="aside">{t('devices_only_holder', String(holder?.id ?? 1))}</p>
        ))}
      {code && (
        <div class="link-code" data-veil="link-code-panel">
          <p>{t('devices_link_code_help')}</p>
          <QrCode text={code.code} label={t('devices_link_new')} />
          <textarea readOnly rows={3} data-veil="link-code" value={code.code} />
          <p role="status">{t('devices_link_waiting')}</p>
        </div>
      )}
      {asking && (
        <div class="confirm" role="group" data-veil="link-confirm">
          <p>{t('devices_link_compare')}</p>
          <p>
            <code data-veil="link-fingerprint">{asking}</code>
          </p>
          <div class="actions">
            <Button
              variant="primary"
              hook="confirm-link"
              busy={action.busy}
              onClick={() => void answer(true)}
            >
              {t('devices_link_confirm')}
            </Button>
            <Button variant="quiet" hook="refuse-link" onClick={() => void answer(false)}>
              {t('devices_link_refuse')}
            </Button>
          </div>
        </div>
      )}
      {linked !== null && (
        <p role="status" data-veil="device-linked">
          {t('devices_linked', String(linked))}
        </p>
      )}
      <Notice notice={action.notice} />
    </section>
  );
}

/** On a browser without an identity: paste a code from the account's browser and join. */
export function JoinAccount(props: { onJoined(): void }) {
  const [code, setCode] = useState('');
  const [waiting, setWaiting] = useState(false);
  const [fingerprint, setFingerprint] = useState<string | null>(null);
  const [joined, setJoined] = useState<{ handle: string; deviceId: number } | null>(null);
  const action = useAction();

  useEffect(() => {
    if (!waiting) return;
    const timer = setInterval(() => {
      void sendMessage({ type: 'joinStatus' }).then(
        (s: LinkState) => {
          if (s.state === 'joined') {
            setWaiting(false);
            setJoined({ handle: s.handle, deviceId: s.deviceId });
            props.onJoined();
          }
        },
        (error: unknown) => {
          setWaiting(false);
          action.setNotice({ kind: 'error', text: String((error as Error).message ?? error) });
        },
      );
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [waiting]);

  const join = async (event: Event) => {
    event.preventDefault();
    const s = await action.run(() => sendMessage({ type: 'joinWithCode', code: code.trim() }));
    if (s?.state === 'waiting') {
      setFingerprint(s.fingerprint ?? null);
      setWaiting(true);
    }
  };
  return (
    <form class="panel" onSubmit={join} noValidate data-veil="join-account">
      <h2>{t('devices_join_title')}</h2>
      <p>{t('devices_join_help')}</p>
      <TextField
        id="link-code"
        label={t('devices_join_code')}
        value={code}
        onInput={setCode}
        hook="join-code"
      />
      <div class="actions">
        <Button type="submit" hook="join-button" busy={action.busy || waiting}>
          {t('devices_join_button')}
        </Button>
      </div>
      {waiting && (
        <div role="status">
          <p>{t('devices_join_compare')}</p>
          {fingerprint && (
            <p>
              <code data-veil="join-fingerprint">{fingerprint}</code>
            </p>
          )}
        </div>
      )}
      {joined && (
        <p role="status" data-veil="joined">
          {t('devices_joined', [joined.handle, String(joined.deviceId)])}
        </p>
      )}
      <Notice notice={action.notice} />
    </form>
  );
}
