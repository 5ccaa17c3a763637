// The popup's offer to turn Veil on for the site in the active tab when it looks like a chat app
// Veil knows ("This looks like The Lounge: use Veil here?"). Only the user's click turns it on;
// the page is asked nothing until the user opens the popup on it.
import { adapterById } from '../../site-adapters/registry';

export interface SuggestionDeps {
  /** The tab the popup is about: its id and address, if the popup may know them. */
  tab(): Promise<{ id?: number; url?: string } | undefined>;
  /** The specific adapter id the page matches (detection script in the tab), or null. */
  detect(tabId: number): Promise<string | null>;
  enabledSites: readonly string[];
}

export interface Suggestion {
  tabId: number;
  /** `host` or `host:port`, as Settings → Sites lists it. */
  host: string;
  /** The chat app's name, e.g. "The Lounge". */
  app: string;
}

export async function suggestSite(deps: SuggestionDeps): Promise<Suggestion | null> {
  const tab = await deps.tab();
  if (tab?.id === undefined || !tab.url) return null;
  let url: URL;
  try {
    url = new URL(tab.url);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  const host = url.host.toLowerCase();
  if (deps.enabledSites.includes(host) || deps.enabledSites.includes(url.hostname)) return null;
  const id = await deps.detect(tab.id).catch(() => null);
  const adapter = id ? adapterById(id) : undefined;
  if (!adapter || adapter.id === 'generic') return null;
  return { tabId: tab.id, host, app: adapter.name };
}
