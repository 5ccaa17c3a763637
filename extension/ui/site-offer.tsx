// The popup's offer for the site in the active tab (site-suggestion.ts): "This looks like The
// Lounge (irc.example): use Veil here?" One click adds the site in Settings → Sites and reloads
// the tab, so Veil starts there. Tests name the tab with `popup.html?tab=<id>` (a popup opened
// as a page is itself the active tab).
import { useEffect, useState } from 'preact/hooks';
import { browser } from 'wxt/browser';
import { sendMessage } from '../messaging/client';
import { Button } from './fields';
import { t } from './i18n';
import { Notice } from './notice';
import { suggestSite, type Suggestion } from './site-suggestion';
import { useAction } from './use-action';

export async function popupTab(): Promise<{ id?: number; url?: string } | undefined> {
  const named = Number(new URLSearchParams(location.search).get('tab'));
  if (Number.isSafeInteger(named) && named > 0) return browser.tabs.get(named);
  const [active] = await browser.tabs.query({ active: true, currentWindow: true });
  return active;
}

async function detectIn(tabId: number): Promise<string | null> {
  const [first] = await browser.scripting.executeScript({
    target: { tabId },
    files: ['/veil-detect.js'],
  });
  const result: unknown = first?.result;
  return typeof result === 'string' ? result : null;
}

export function SiteOffer({ enabledSites }: { enabledSites: readonly string[] }) {
  const [offer, setOffer] = useState<Suggestion | null>(null);
  const [done, setDone] = useState(false);
  const action = useAction();
  const sites = enabledSites.join(' ');

  useEffect(() => {
    void suggestSite({ tab: popupTab, detect: detectIn, enabledSites }).then(setOffer, () =>
      setOffer(null),
    );
  }, [sites]);

  if (!offer) return null;
  const enable = async () => {
    const ok = await action.run(async () => {
      const settings = await sendMessage({ type: 'getSettings' });
      await sendMessage({
        type: 'setSettings',
        enabledSites: [...settings.enabledSites, offer.host],
      });
      // The content script is registered for the site now; it starts with the page.
      await browser.tabs.reload(offer.tabId);
      return true;
    });
    if (ok) setDone(true);
  };
  return (
    <section class="popup-offer" data-veil="site-suggestion" data-veil-host={offer.host}>
      {done ? (
        <p role="status">{t('popup_offer_done', offer.host)}</p>
      ) : (
        <>
          <p>{t('popup_offer', [offer.app, offer.host])}</p>
          <Button variant="primary" hook="suggest-enable" onClick={() => void enable()}>
            {t('popup_offer_enable')}
          </Button>
        </>
      )}
      <Notice notice={action.notice} />
    </section>
  );
}
