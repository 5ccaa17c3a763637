// Starts Veil in a page (content script): finds the page's adapter, asks the background whether
// Veil runs here, and only then watches the page. Dormant (one message, nothing observed) on
// every other page. Listens to the background only (tabs.sendMessage): status changes, chunks
// to submit, and whether the composer is in view. Holds no keys and never sees plaintext.
import { browser } from 'wxt/browser';
import { sendMessage } from '../messaging/client';
import type { PageHealth, SiteProfile, ToContentMessage } from '../messaging/messages';
import { adapterFromProfile } from '../../site-adapters/profile';
import type { SiteAdapter } from '../../site-adapters/types';
import { isBlockDigest } from '../protocol/block-digest';
import { PageSession, type PageApi } from './page-session';
import { pickSite } from './picker';

export type FindAdapter = (location: URL, doc: Document) => SiteAdapter | null;

type TokenMessage = Extract<ToContentMessage, { token: string }>;
type ControlMessage = Exclude<ToContentMessage, TokenMessage>;

/** The background's messages about the whole page: cancel its history, show an archived block. */
function isControl(message: unknown): message is ControlMessage {
  const m = message as { type?: unknown; digest?: unknown } | null;
  return (
    m?.type === 'veil:cancel-history' || (m?.type === 'revealBlock' && isBlockDigest(m.digest))
  );
}

function isToContent(message: unknown): message is TokenMessage {
  const m = message as { type?: unknown; token?: unknown } | null;
  return (
    typeof m?.token === 'string' &&
    (m.type === 'veil:submit' ||
      m.type === 'veil:status' ||
      m.type === 'veil:sight' ||
      m.type === 'veil:pick' ||
      m.type === 'veil:layout')
  );
}

/** Whether this copy still belongs to a running extension (not one updated or removed since). */
function extensionAlive(): boolean {
  try {
    return browser.runtime?.id !== undefined;
  } catch {
    return false;
  }
}

/**
 * Calls `changed` after the page's address changes without a load (single-page apps). Nothing
 * is dispatched into the page: a page must not be able to observe Veil through events.
 */
function watchLocation(changed: () => void, signal: AbortSignal): void {
  const nav = (globalThis as { navigation?: EventTarget }).navigation;
  if (typeof nav?.addEventListener === 'function') {
    nav.addEventListener('navigate', changed, { signal });
    return;
  }
  // No Navigation API (Firefox ESR): look once a second.
  let last = location.href;
  const timer = setInterval(() => {
    if (location.href === last) return;
    last = location.href;
    changed();
  }, 1000);
  signal.addEventListener('abort', () => clearInterval(timer));
}

/** Checks for an adapter at most this often while a page has none yet. */
const ADAPTER_CHECK_MS = 250;

/**
 * The page's adapter as soon as one matches: single-page apps draw their compose box late
 * (after sign-in, on a route change), so the page is watched until then, at most one check per
 * ADAPTER_CHECK_MS whatever the page does. Null once `signal` aborts.
 */
export function adapterWhenReady(
  find: () => SiteAdapter | null,
  doc: Document,
  signal: AbortSignal,
): Promise<SiteAdapter | null> {
  const now = find();
  if (now || signal.aborted) return Promise.resolve(now);
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = (adapter: SiteAdapter | null) => {
      observer.disconnect();
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
      resolve(adapter);
    };
    const check = () => {
      timer = undefined;
      const adapter = find();
      if (adapter) done(adapter);
    };
    const observer = new MutationObserver(() => {
      timer ??= setTimeout(check, ADAPTER_CHECK_MS);
    });
    const abort = () => done(null);
    signal.addEventListener('abort', abort);
    // Attributes too: a compose box shown by a class or style change adds no node.
    observer.observe(doc, { childList: true, subtree: true, attributes: true });
  });
}

/** How often the page is asked what Veil finds there (for the popup), while Veil runs. */
const HEALTH_EVERY_MS = 2_000;

export interface Adapters {
  /** The adapter for the page now (a site's own, else the generic one), if any matches. */
  adapterFor: FindAdapter;
  /** The built-in adapter made for this page's site, whether or not its selectors match. */
  siteAdapterFor: FindAdapter;
}

function pageApi(): PageApi {
  return {
    decrypt: (conversation, blocks, after) =>
      sendMessage({
        type: 'pageDecrypt',
        ...conversation,
        blocks,
        ...(after.length > 0 ? { after } : {}),
      }),
    registerComposer: (conversation, maxMessageLength, authors) =>
      sendMessage({
        type: 'registerComposer',
        ...conversation,
        maxMessageLength,
        authors,
      }),
    // Counts only; a lost report is corrected by the next (the last one closes the task).
    history: (done, total) =>
      void sendMessage({ type: 'pageHistory', done, total }).catch(() => undefined),
  };
}

export async function startVeil(adapters: Adapters): Promise<void> {
  // Read on every scan: a new URL only when the address changed.
  let url = new URL(location.href);
  const here = () => (url.href === location.href ? url : (url = new URL(location.href)));
  const first = adapters.adapterFor(here(), document);
  let answer: { enabled: boolean; profile?: SiteProfile };
  try {
    answer = await sendMessage({ type: 'pageEnabled', adapter: first?.id ?? 'none' });
  } catch {
    return; // no background (extension updated or disabled): stay dormant
  }
  if (!answer.enabled || !extensionAlive()) return;

  // What the user taught Veil about this site comes before any built-in adapter.
  let taught = answer.profile ? adapterFromProfile(answer.profile) : null;
  const findAdapter = (): SiteAdapter | null =>
    (taught?.composeBox(document) ? taught : null) ?? adapters.adapterFor(here(), document);

  const lifetime = new AbortController();
  let session: PageSession | null = null;
  let adapter: SiteAdapter | null = null;
  let picking = false;

  const run = (next: SiteAdapter) => {
    session?.stop();
    adapter = next;
    session = new PageSession(next, document, here, pageApi());
    session.start();
  };

  let lastHealth = '';
  const reportHealth = () => {
    const site = adapters.siteAdapterFor(here(), document);
    const health: PageHealth = {
      adapter: adapter ? { name: adapter.name, markup: adapter.markup } : null,
      composeBox: !!adapter?.composeBox(document),
      messageList: !!adapter?.messageList(document),
    };
    if (site && site !== adapter) health.missed = site.name;
    const said = JSON.stringify(health);
    if (said === lastHealth) return;
    lastHealth = said;
    void sendMessage({ type: 'pageHealth', health }).catch(() => (lastHealth = ''));
  };

  const pick = async (token: string) => {
    if (picking) return;
    picking = true;
    try {
      const profile = await pickSite(document, here().host);
      if (!profile) return;
      const saved = await sendMessage({ type: 'saveSiteProfile', token, profile });
      taught = adapterFromProfile(saved);
      run(taught);
      reportHealth();
    } catch {
      // The background refused it (no picker started, or not this site): nothing changes.
    } finally {
      picking = false;
    }
  };

  const onMessage = (
    message: unknown,
    sender: { id?: string },
    sendResponse: (answer: unknown) => void,
  ): true | undefined => {
    // Only the background can reach a content script this way; check it is ours anyway.
    if (sender.id !== browser.runtime.id) return undefined;
    if (isControl(message)) {
      if (message.type === 'veil:cancel-history')
        sendResponse({ dropped: session?.cancelHistory() ?? 0 });
      else
        (session?.reveal(message.digest) ?? Promise.resolve(false)).then(
          (found) => sendResponse({ found }),
          () => sendResponse({ found: false }),
        );
      return message.type === 'revealBlock' ? true : undefined;
    }
    if (!isToContent(message)) return undefined;
    if (message.type === 'veil:pick') {
      void pick(message.token);
      sendResponse({ ok: true });
      return undefined;
    }
    if (message.type === 'veil:sight') {
      sendResponse({ sight: session?.sight(message.token) ?? 'away' });
      return undefined;
    }
    if (message.type === 'veil:layout') {
      if (message.focusHost === true) session?.focusHostBox(message.token);
      if (message.size === 'compact' || message.size === 'tall')
        session?.resizeComposer(message.token, message.size);
      sendResponse({ ok: true });
      return undefined;
    }
    if (message.type === 'veil:status') {
      if (typeof message.status === 'string') session?.restatus(message.token, message.status);
      sendResponse({ ok: true });
      return undefined;
    }
    const chunks = Array.isArray(message.chunks)
      ? message.chunks.filter((c): c is string => typeof c === 'string')
      : [];
    (session?.submit(message.token, chunks) ?? Promise.resolve(false)).then(
      (ok) => sendResponse({ ok }),
      () => sendResponse({ ok: false }),
    );
    return true;
  };
  const stop = () => {
    lifetime.abort();
    browser.runtime.onMessage.removeListener(onMessage);
    session?.stop();
  };
  browser.runtime.onMessage.addListener(onMessage);
  const health = setInterval(() => (extensionAlive() ? reportHealth() : stop()), HEALTH_EVERY_MS);
  lifetime.signal.addEventListener('abort', () => clearInterval(health));
  reportHealth();

  // An orphaned copy (the extension was updated meanwhile) stops watching.
  const find = () => (extensionAlive() ? findAdapter() : (lifetime.abort(), null));
  const found =
    (taught?.composeBox(document) ? taught : first) ??
    (await adapterWhenReady(find, document, lifetime.signal));
  if (!found || !extensionAlive()) return;
  // The user may have taught Veil the site while it waited.
  if (!session) run(found);
  reportHealth();
  watchLocation(() => (extensionAlive() ? session?.refresh() : stop()), lifetime.signal);
}
