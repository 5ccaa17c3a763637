// The popup's word on the page in the active tab, where Veil runs: which adapter reads it and
// whether it still finds the message box and the messages (a site's markup changes, and its
// adapter then says so here instead of silently doing nothing), and "Teach Veil this site",
// which draws the picker in the page.
import { useEffect, useState } from 'preact/hooks';
import { sendMessage } from '../messaging/client';
import type { PageHealth } from '../messaging/messages';
import { Button } from './fields';
import { t } from './i18n';
import { Notice } from './notice';
import { popupTab } from './site-offer';
import { siteNotes } from './site-notes';
import { useAction } from './use-action';

const HEALTH_POLL_MS = 1_000;

export function SitePanel() {
  const [tabId, setTabId] = useState<number | null>(null);
  const [state, setState] = useState<{ health: PageHealth | null; taught: boolean } | null>(null);
  const action = useAction();

  useEffect(() => {
    let timer: ReturnType<typeof setInterval> | undefined;
    void (async () => {
      const tab = await popupTab().catch(() => undefined);
      if (tab?.id === undefined) return;
      const id = tab.id;
      setTabId(id);
      const look = async () =>
        setState(await sendMessage({ type: 'tabHealth', tabId: id }).catch(() => null));
      await look();
      // The page says what it finds every few seconds: follow it while the popup is open.
      timer = setInterval(() => void look(), HEALTH_POLL_MS);
    })();
    return () => clearInterval(timer);
  }, []);

  const health = state?.health;
  if (tabId === null || !health) return null;
  const teach = async () => {
    const ok = await action.run(() => sendMessage({ type: 'startPicker', tabId }));
    if (ok) window.close();
  };
  const notes = siteNotes(health, state.taught);
  return (
    <section
      class="popup-site"
      data-veil="site-panel"
      data-veil-state={notes.some((n) => n.problem) ? 'problem' : 'ok'}
    >
      {notes.map((note) => (
        <p
          key={note.key}
          class={note.problem ? 'alert' : 'muted'}
          data-veil={note.problem ? 'site-problem' : undefined}
        >
          {t(note.key, note.args ?? [])}
        </p>
      ))}
      <p class="muted">{t('popup_teach_explain')}</p>
      <Button hook="teach-site" onClick={() => void teach()}>
        {t('popup_teach')}
      </Button>
      <Notice notice={action.notice} />
    </section>
  );
}
