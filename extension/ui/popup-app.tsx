// The toolbar popup: a compact status (identity, lock, contacts whose key changed) and links that
// open the options page at the right screen.
import { ArchiveSearch } from './archive/archive-search';
import { TaskList } from './archive/task-progress';
import { DeviceList } from './devices';
import { useEffect, useState } from 'preact/hooks';
import { browser } from 'wxt/browser';
import { sendMessage } from '../messaging/client';
import type { ContactView, StatusReply } from '../messaging/messages';
import { FingerprintHalf } from './digits';
import { Button } from './fields';
import { t } from './i18n';
import { LogAlarms } from './log-alarms';
import { Logo } from './logo';
import { Notice } from './notice';
import { routeHref, type Route } from './router';
import { SiteOffer } from './site-offer';
import { SitePanel } from './site-panel';
import { useAction } from './use-action';

async function openOptions(route?: Route): Promise<void> {
  const runtime = browser.runtime as unknown as { getURL(path: string): string };
  const url = runtime.getURL('/options.html') + (route ? routeHref(route) : '');
  await browser.tabs.create({ url });
  window.close();
}

export function PopupApp() {
  const [status, setStatus] = useState<StatusReply | null>(null);
  const [contacts, setContacts] = useState<ContactView[]>([]);
  const action = useAction();
  const { run } = action;

  useEffect(() => {
    void (async () => {
      const reply = await run(() => sendMessage({ type: 'status' }));
      if (!reply) return;
      setStatus(reply);
      if (reply.identity && !reply.locked) {
        const list = await run(() => sendMessage({ type: 'listContacts' }));
        if (list) setContacts(list.contacts);
      }
    })();
  }, [run]);

  const lockNow = async () => {
    const reply = await run(() => sendMessage({ type: 'lock' }));
    if (reply) setStatus(reply);
  };

  const changed = contacts.filter((c) => c.status === 'key-changed');
  const verified = contacts.filter((c) => c.status === 'verified').length;
  return (
    <main class="popup">
      <header class="popup-header">
        <span class="brand">
          <Logo />
          {t('app_name')}
        </span>
        {status && (
          <span class={`chip ${status.locked ? 'chip-locked' : 'chip-open'}`}>
            {status.locked ? t('popup_locked') : status.lockEnabled ? t('popup_unlocked') : ''}
          </span>
        )}
      </header>
      <Notice notice={action.notice} />
      {/* Loud, locked or not: an entry for our handle we did not make, or a split view. */}
      <LogAlarms />
      {!status ? (
        <p class="muted">{t('loading')}</p>
      ) : status.locked ? (
        <section>
          <p>{t('popup_locked_explain')}</p>
          <Button variant="primary" onClick={() => void openOptions()}>
            {t('popup_unlock')}
          </Button>
        </section>
      ) : !status.identity ? (
        <section>
          <p>{t('popup_setup_explain')}</p>
          <Button variant="primary" hook="popup-setup" onClick={() => void openOptions()}>
            {t('popup_setup')}
          </Button>
        </section>
      ) : (
        <section>
          <p class="popup-handle" data-veil="popup-handle">
            {status.identity.handle}
            <span class="muted">
              {' · '}
              {status.identity.published ? t('popup_published') : t('popup_not_published')}
            </span>
          </p>
          <FingerprintHalf digits={status.identity.fingerprint} />
          {status.identity.published && <DeviceList compact />}
          <TaskList />
          <ArchiveSearch compact />
          <SiteOffer enabledSites={status.settings.enabledSites} />
          <SitePanel />
          {changed.length > 0 && (
            <ul class="alert popup-alert" role="alert">
              {changed.map((c) => (
                <li key={c.handle}>
                  <button
                    type="button"
                    class="link"
                    onClick={() => void openOptions({ name: 'verify', handle: c.handle })}
                  >
                    {t('key_change_banner', c.handle)}
                  </button>
                </li>
              ))}
            </ul>
          )}
          <p class="muted">
            {t('popup_contacts_summary', [String(contacts.length), String(verified)])}
          </p>
          <div class="popup-actions">
            <Button variant="primary" onClick={() => void openOptions({ name: 'contacts' })}>
              {t('nav_contacts')}
            </Button>
            <Button onClick={() => void openOptions({ name: 'archive' })}>
              {t('nav_archive')}
            </Button>
            <Button onClick={() => void openOptions({ name: 'backup' })}>{t('nav_backup')}</Button>
            <Button onClick={() => void openOptions({ name: 'settings' })}>
              {t('nav_settings')}
            </Button>
            {status.lockEnabled && (
              <Button variant="quiet" onClick={() => void lockNow()}>
                {t('lock_now')}
              </Button>
            )}
          </div>
        </section>
      )}
    </main>
  );
}
