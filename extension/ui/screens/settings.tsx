// Settings: the key directory, the sites Veil runs on, the security phrase, the passphrase lock,
// and deleting everything (here and, signed, in the directory).
import { useRef, useState } from 'preact/hooks';
import { sendMessage } from '../../messaging/client';
import type { Settings as SettingsValue, StatusReply } from '../../messaging/messages';
import { DeviceList } from '../devices';
import { DirectoryKey } from '../directory-key';
import { Button, ScreenTitle, TextField } from '../fields';
import { isUsableDirectoryUrl, normalizeSiteHost } from '../format';
import { SecurityPhraseForm } from '../identity';
import { t } from '../i18n';
import { Notice } from '../notice';
import { useAction } from '../use-action';
import { SiteProfiles } from './site-profiles';

export function Settings(props: {
  status: StatusReply;
  onStatus(status: StatusReply): void;
  onChanged(): void;
  onDeleted(directoryDeleted: boolean): void;
  /** After a "check the log now": alarms may have changed. */
  onLogChecked?(): void;
}) {
  const { status } = props;
  const saveSettings = (settings: SettingsValue) => props.onStatus({ ...status, settings });
  return (
    <div class="screen narrow">
      <ScreenTitle>{t('settings_title')}</ScreenTitle>
      <DirectorySettings
        directoryUrl={status.settings.directoryUrl}
        onSaved={saveSettings}
        onLogChecked={() => props.onLogChecked?.()}
      />
      {status.identity?.published && <DeviceList />}
      <SiteSettings sites={status.settings.enabledSites} onSaved={saveSettings} />
      <SiteProfiles />
      <SecurityPhraseForm hasPhrase={status.hasSecurityPhrase} onSaved={props.onChanged} />
      <LockSettings status={status} onStatus={props.onStatus} />
      <DeleteEverything onDeleted={props.onDeleted} />
    </div>
  );
}

function DirectorySettings(props: {
  directoryUrl: string;
  onSaved(s: SettingsValue): void;
  onLogChecked(): void;
}) {
  const [url, setUrl] = useState(props.directoryUrl);
  const [error, setError] = useState<string | null>(null);
  const action = useAction();
  const save = async (event: Event) => {
    event.preventDefault();
    const value = url.trim();
    if (!isUsableDirectoryUrl(value)) return setError(t('directory_url_invalid'));
    setError(null);
    const settings = await action.run(
      () => sendMessage({ type: 'setSettings', directoryUrl: value }),
      { success: t('directory_saved') },
    );
    if (settings) props.onSaved(settings);
  };
  return (
    <section class="panel" aria-labelledby="directory-title">
      <h2 id="directory-title">{t('directory_title')}</h2>
      <form onSubmit={save} noValidate>
        <TextField
          id="directory-url"
          type="url"
          label={t('directory_address_label')}
          hint={t('directory_settings_hint')}
          value={url}
          onInput={setUrl}
          error={error}
          hook="directory-url"
        />
        <div class="actions">
          <Button type="submit" hook="save-directory-url" busy={action.busy}>
            {t('save')}
          </Button>
        </div>
      </form>
      <Notice notice={action.notice} />
      <DirectoryKey directoryUrl={props.directoryUrl} onChecked={props.onLogChecked} />
    </section>
  );
}

function SiteSettings(props: { sites: string[]; onSaved(s: SettingsValue): void }) {
  const [site, setSite] = useState('');
  const [error, setError] = useState<string | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);
  const action = useAction();
  const store = async (enabledSites: string[], success: string) => {
    const settings = await action.run(() => sendMessage({ type: 'setSettings', enabledSites }), {
      success,
    });
    if (settings) props.onSaved(settings);
    return settings;
  };
  const add = async (event: Event) => {
    event.preventDefault();
    const host = normalizeSiteHost(site);
    if (!host) return setError(t('site_invalid'));
    setError(null);
    if (props.sites.includes(host)) return setSite('');
    if (await store([...props.sites, host], t('site_added', host))) setSite('');
  };
  const remove = async (host: string) => {
    await store(
      props.sites.filter((s) => s !== host),
      t('site_removed', host),
    );
    inputRef.current?.focus();
  };
  return (
    <section class="panel" aria-labelledby="sites-title">
      <h2 id="sites-title">{t('sites_title')}</h2>
      <p>{t('sites_explain')}</p>
      {props.sites.length === 0 ? (
        <p class="muted">{t('sites_empty')}</p>
      ) : (
        <ul class="site-list" data-veil="site-list">
          {props.sites.map((host) => (
            <li key={host}>
              <span>{host}</span>
              <Button
                variant="quiet"
                busy={action.busy}
                onClick={() => void remove(host)}
                hook="remove-site"
              >
                <span aria-hidden="true">{t('remove')}</span>
                <span class="visually-hidden">{t('site_remove_label', host)}</span>
              </Button>
            </li>
          ))}
        </ul>
      )}
      <form class="inline-form" onSubmit={add} noValidate>
        <TextField
          id="site-host"
          label={t('site_label')}
          placeholder="chat.example.com"
          value={site}
          onInput={setSite}
          error={error}
          hook="site-input"
          inputRef={inputRef}
        />
        <Button type="submit" hook="add-site" busy={action.busy}>
          {t('site_add')}
        </Button>
      </form>
      <Notice notice={action.notice} />
    </section>
  );
}

function LockSettings(props: { status: StatusReply; onStatus(status: StatusReply): void }) {
  const [passphrase, setPassphrase] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<string | null>(null);
  const action = useAction();
  const enabled = props.status.lockEnabled;

  const setLock = async (event: Event) => {
    event.preventDefault();
    if (passphrase.length < 8) return setError(t('passphrase_too_short', '8'));
    if (passphrase !== confirm) return setError(t('passphrase_mismatch'));
    setError(null);
    const status = await action.run(() => sendMessage({ type: 'setLockPassphrase', passphrase }), {
      success: t('lock_set'),
    });
    if (!status) return;
    setPassphrase('');
    setConfirm('');
    props.onStatus(status);
  };
  const removeLock = async (event: Event) => {
    event.preventDefault();
    if (!passphrase) return setError(t('lock_current_needed'));
    setError(null);
    const status = await action.run(
      () => sendMessage({ type: 'setLockPassphrase', passphrase: null, current: passphrase }),
      { success: t('lock_removed'), errors: { 'wrong-passphrase': 'lock_wrong_passphrase' } },
    );
    if (!status) return;
    setPassphrase('');
    props.onStatus(status);
  };
  const lockNow = async () => {
    const status = await action.run(() => sendMessage({ type: 'lock' }));
    if (status) props.onStatus(status);
  };

  return (
    <section class="panel" aria-labelledby="lock-title">
      <h2 id="lock-title">{t('lock_title')}</h2>
      <p>{enabled ? t('lock_enabled_explain') : t('lock_explain')}</p>
      {enabled ? (
        <>
          <div class="actions">
            <Button variant="primary" hook="lock-now" busy={action.busy} onClick={lockNow}>
              {t('lock_now')}
            </Button>
          </div>
          <form onSubmit={removeLock} noValidate>
            <TextField
              id="lock-current"
              type="password"
              autoComplete="current-password"
              label={t('lock_current_label')}
              value={passphrase}
              onInput={setPassphrase}
              error={error}
              hook="lock-current"
            />
            <div class="actions">
              <Button type="submit" variant="quiet" hook="remove-lock" busy={action.busy}>
                {t('lock_remove')}
              </Button>
            </div>
          </form>
        </>
      ) : (
        <form onSubmit={setLock} noValidate>
          <TextField
            id="lock-passphrase"
            type="password"
            autoComplete="new-password"
            label={t('lock_passphrase_label')}
            value={passphrase}
            onInput={setPassphrase}
            hook="lock-passphrase"
          />
          <TextField
            id="lock-passphrase-confirm"
            type="password"
            autoComplete="new-password"
            label={t('passphrase_confirm_label')}
            value={confirm}
            onInput={setConfirm}
            error={error}
            hook="lock-passphrase-confirm"
          />
          <div class="actions">
            <Button type="submit" hook="set-lock" busy={action.busy}>
              {t('lock_set_button')}
            </Button>
          </div>
        </form>
      )}
      <Notice notice={action.notice} />
    </section>
  );
}

const FORCE_DELETE_CODES = ['directory-unreachable', 'directory-error', 'rate-limited', 'locked'];

function DeleteEverything(props: { onDeleted(directoryDeleted: boolean): void }) {
  const [confirming, setConfirming] = useState(false);
  const confirmRef = useRef<HTMLDivElement>(null);
  const action = useAction();
  const start = () => {
    setConfirming(true);
    // After render: move focus to the confirmation so its question is read first.
    setTimeout(() => confirmRef.current?.focus(), 0);
  };
  const remove = async (force: boolean) => {
    const reply = await action.run(() => sendMessage({ type: 'deleteEverything', force }));
    if (reply) props.onDeleted(reply.directoryDeleted);
  };
  // The directory could not confirm the deletion: offer to delete only here.
  const code = action.notice?.code;
  const offerForce = code !== undefined && FORCE_DELETE_CODES.includes(code);
  return (
    <section class="panel danger-panel" aria-labelledby="delete-title">
      <h2 id="delete-title">{t('delete_title')}</h2>
      <p>{t('delete_explain')}</p>
      {confirming ? (
        <div class="confirm" ref={confirmRef} tabIndex={-1} role="group" aria-labelledby="delete-q">
          <p id="delete-q">
            <strong>{t('delete_confirm_question')}</strong>
          </p>
          <div class="actions">
            <Button
              variant="danger"
              hook="confirm-delete"
              busy={action.busy}
              onClick={() => void remove(false)}
            >
              {t('delete_confirm_button')}
            </Button>
            {offerForce && (
              <Button hook="force-delete" busy={action.busy} onClick={() => void remove(true)}>
                {t('delete_force_button')}
              </Button>
            )}
            <Button variant="quiet" hook="cancel-delete" onClick={() => setConfirming(false)}>
              {t('cancel')}
            </Button>
          </div>
        </div>
      ) : (
        <div class="actions">
          <Button variant="danger" hook="delete-everything" onClick={start}>
            {t('delete_button')}
          </Button>
        </div>
      )}
      <Notice notice={action.notice} />
    </section>
  );
}
