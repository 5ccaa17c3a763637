// The options page (opened in a tab): loads the background's status and shows onboarding,
// unlock, or the app with its screens (contacts, verify, backup, settings).
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { sendMessage } from '../messaging/client';
import type { StatusReply } from '../messaging/messages';
import { Button } from './fields';
import { t } from './i18n';
import { Notice } from './notice';
import { navigate, routeHref, useRoute, type Route } from './router';
import { LogAlarms } from './log-alarms';
import { TaskList } from './archive/task-progress';
import { Archive } from './screens/archive';
import { Backup } from './screens/backup';
import { Contacts } from './screens/contacts';
import { CreateIdentity, Welcome } from './screens/onboarding';
import { Settings } from './screens/settings';
import { Unlock } from './screens/unlock';
import { Verify } from './screens/verify';
import { useAction, type NoticeState } from './use-action';
import { Logo } from './logo';

const NAV: {
  route: Route['name'];
  label: 'nav_contacts' | 'nav_archive' | 'nav_backup' | 'nav_settings';
}[] = [
  { route: 'contacts', label: 'nav_contacts' },
  { route: 'archive', label: 'nav_archive' },
  { route: 'backup', label: 'nav_backup' },
  { route: 'settings', label: 'nav_settings' },
];

function Shell(props: {
  current?: Route['name'];
  nav: boolean;
  /** Changes when the alarms should be fetched again. */
  alarms?: number;
  children: ComponentChildren;
}) {
  return (
    <>
      {/* The hash holds the route, so the skip link moves focus itself instead of navigating. */}
      <a
        class="skip-link"
        href="#main"
        onClick={(event) => {
          event.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        {t('skip_to_content')}
      </a>
      <header class="app-header">
        <div class="app-header-inner">
          <span class="brand">
            <Logo />
            {t('app_name')}
          </span>
          {props.nav && (
            <nav aria-label={t('nav_label')}>
              <ul>
                {NAV.map((item) => (
                  <li key={item.route}>
                    <a
                      href={`#${item.route}`}
                      aria-current={
                        props.current === item.route ||
                        (item.route === 'contacts' && props.current === 'verify')
                          ? 'page'
                          : undefined
                      }
                      data-veil={`nav-${item.route}`}
                    >
                      {t(item.label)}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
          )}
        </div>
      </header>
      <main id="main" class="app-main" tabIndex={-1}>
        {/* Alarms about the directory's log are loud: on every screen, locked or not. */}
        <LogAlarms key={props.alarms ?? 0} />
        {/* Long work (a backup's archive import, indexing, a page's history) on every screen. */}
        {props.nav && <TaskList />}
        {props.children}
      </main>
    </>
  );
}

export function OptionsApp() {
  const route = useRoute();
  const [status, setStatus] = useState<StatusReply | null>(null);
  const [alarmsVersion, setAlarmsVersion] = useState(0);
  // A message for the screen we are moving to (after a restore or delete), tied to its route.
  const [flash, setFlash] = useState<{ at: string; notice: NoticeState } | null>(null);
  const here = routeHref(route);
  const loader = useAction();
  const { run } = loader;

  const refresh = useCallback(async () => {
    const reply = await run(() => sendMessage({ type: 'status' }));
    if (reply) setStatus(reply);
  }, [run]);
  useEffect(() => void refresh(), [refresh]);
  useEffect(() => setFlash((f) => (f && f.at === here ? f : null)), [here]);
  const flashNotice = flash?.at === here ? flash.notice : null;

  if (!status)
    return (
      <Shell nav={false}>
        <div class="screen narrow">
          {loader.notice ? (
            <>
              <Notice notice={loader.notice} />
              <Button onClick={() => void refresh()}>{t('retry')}</Button>
            </>
          ) : (
            <p class="muted">{t('loading')}</p>
          )}
        </div>
      </Shell>
    );

  if (status.locked)
    return (
      <Shell nav={false}>
        <Unlock onUnlocked={setStatus} />
      </Shell>
    );

  const restored = (next: StatusReply) => {
    setStatus(next);
    navigate({ name: 'contacts' });
    setFlash({
      at: routeHref({ name: 'contacts' }),
      notice: { kind: 'success', text: t('restore_done', next.identity?.handle ?? '') },
    });
  };

  const { identity } = status;
  if (!identity)
    return (
      <Shell nav={false}>
        <Notice notice={flashNotice} />
        {route.name === 'backup' ? (
          <Backup onRestored={restored} />
        ) : (
          <CreateIdentity
            status={status}
            onCreated={() => {
              navigate({ name: 'welcome' });
              void refresh();
            }}
          />
        )}
      </Shell>
    );

  const deleted = (directoryDeleted: boolean) => {
    navigate({ name: 'contacts' });
    void refresh();
    setFlash({
      at: routeHref({ name: 'contacts' }),
      notice: {
        kind: directoryDeleted ? 'success' : 'error',
        text: t(directoryDeleted ? 'delete_done' : 'delete_done_directory_failed'),
      },
    });
  };

  const changed = () => void refresh();
  let screen: ComponentChildren;
  switch (route.name) {
    case 'welcome':
      screen = <Welcome identity={identity} status={status} onChanged={changed} />;
      break;
    case 'verify':
      screen = <Verify key={route.handle} handle={route.handle} />;
      break;
    case 'backup':
      screen = <Backup identity={identity} onRestored={restored} />;
      break;
    case 'archive':
      screen = <Archive lockEnabled={status.lockEnabled} />;
      break;
    case 'settings':
      screen = (
        <Settings
          status={status}
          onStatus={setStatus}
          onChanged={changed}
          onDeleted={deleted}
          onLogChecked={() => setAlarmsVersion((v) => v + 1)}
        />
      );
      break;
    default:
      screen = <Contacts identity={identity} status={status} onChanged={changed} />;
  }
  return (
    <Shell nav current={route.name} alarms={alarmsVersion}>
      <Notice notice={flashNotice} />
      {screen}
    </Shell>
  );
}
