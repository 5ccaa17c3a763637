// Only the user turns Veil on, per site (Chromium, built extension, local chat page): a page on
// a site the user did not enable gets none of Veil's code, even when it copies a known chat
// app's markup; the enabled site gets it; removing the site in Settings takes it away again.
// The toolbar popup offers to turn Veil on for a page that looks like a chat app Veil knows,
// and one click does.
// "None of Veil's code" is read from the browser itself: the DevTools protocol lists every
// script world in a page, and a content script runs in an isolated world of the extension.
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startLocalChat, type LocalChat } from '../fixtures/local-chat/server';
import { onboardInChromium, openPopupFor, type ChromiumPerson } from './chromium-person';
import { startDirectory, type DirectoryServer } from './directory-server';
import { chromiumPath, timed } from './harness';
import { hook } from './options-page';

/** Claims to be The Lounge, as any page can (the adapter's own detection would agree). */
function posesAsTheLounge(): void {
  document.addEventListener('DOMContentLoaded', () => {
    const meta = document.createElement('meta');
    meta.name = 'application-name';
    meta.content = 'The Lounge';
    document.head.append(meta);
  });
}

interface Visit {
  /** Origins of the extension script worlds created in the page. */
  extensionWorlds: string[];
  /** Elements Veil marks, and frames pointing into the extension. */
  veilMarks: number;
}

/** Opens `url`, waits `settle` ms, and reports what of Veil the page got. */
async function visit(person: ChromiumPerson, url: string, settle = 2_000): Promise<Visit> {
  const page: Page = await person.session.browser.newPage();
  try {
    const cdp = await page.createCDPSession();
    const worlds: string[] = [];
    cdp.on('Runtime.executionContextCreated', (e: { context: { origin: string } }) => {
      if (e.context.origin.startsWith('chrome-extension://')) worlds.push(e.context.origin);
    });
    await cdp.send('Runtime.enable');
    await page.evaluateOnNewDocument(posesAsTheLounge);
    await page.goto(url);
    await new Promise((r) => setTimeout(r, settle));
    const veilMarks = await page.evaluate(
      () => document.querySelectorAll('[data-veil], iframe[src^="chrome-extension:"]').length,
    );
    return { extensionWorlds: worlds, veilMarks };
  } finally {
    await page.close();
  }
}

if (!chromiumPath) console.warn('[e2e] skipping site scripts: no Chromium found');

describe.skipIf(!chromiumPath)('Veil runs only where the user turned it on (Chromium)', () => {
  const extensionDir = inject('chromeExtensionDir');
  let directory: DirectoryServer;
  let chat: LocalChat;
  let carol: ChromiumPerson;

  beforeAll(async () => {
    directory = await startDirectory();
    chat = await startLocalChat();
    carol = await onboardInChromium('carol', {
      extensionDir,
      directoryUrl: directory.url,
      site: chat.host,
    });
  });

  afterAll(async () => {
    await carol?.session.close();
    await chat?.close();
    await directory?.stop();
  });

  it(
    'a site not enabled gets no content script, even dressed as The Lounge; the enabled one does until removed',
    timed('site scripts', async () => {
      // The same chat page under another name (localhost is not the enabled 127.0.0.1).
      const other = new URL(chat.url);
      other.hostname = 'localhost';
      const stranger = await visit(carol, `${other.href}?user=carol`);
      expect(stranger).toEqual({ extensionWorlds: [], veilMarks: 0 });

      // The enabled site: Veil's world, and its toggle on the page.
      const page = await carol.session.browser.newPage();
      try {
        await page.goto(`${chat.url}/?user=carol`);
        await page.waitForSelector(hook('toggle'), { timeout: 15_000 });
      } finally {
        await page.close();
      }
      const enabled = await visit(carol, `${chat.url}/?user=carol`);
      expect(enabled.extensionWorlds).toEqual([carol.session.origin.replace(/\/$/, '')]);

      // Removed in Settings → Sites: the next load of that site gets nothing again.
      await carol.ui.go('#settings');
      await carol.ui.click(hook('remove-site'));
      await carol.ui.page.waitForSelector(hook('site-list'), { hidden: true });
      const removed = await visit(carol, `${chat.url}/?user=carol`);
      expect(removed).toEqual({ extensionWorlds: [], veilMarks: 0 });
    }),
  );

  it(
    'the popup offers Veil for a page that looks like The Lounge, not for a plain one; one click turns it on',
    timed('site offer', async () => {
      const { browser } = carol.session;
      const other = new URL(chat.url);
      other.hostname = 'localhost';
      const host = other.host;
      /** Opens `url` in a tab and the popup about that tab; returns both. */
      const popupFor = async (url: string, dressed: boolean) => {
        const page = await browser.newPage();
        if (dressed) await page.evaluateOnNewDocument(posesAsTheLounge);
        await page.goto(url);
        const popup = await openPopupFor(carol, url);
        await popup.waitForSelector(hook('popup-handle'));
        return { page, popup };
      };

      const plain = await popupFor(`${other.href}?plain=1`, false);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(await plain.popup.$(hook('site-suggestion'))).toBeNull();
      await plain.popup.close();
      await plain.page.close();

      const dressed = await popupFor(`${other.href}?user=carol`, true);
      const offer = await dressed.popup.waitForSelector(hook('site-suggestion'), {
        timeout: 10_000,
      });
      const said = await offer!.evaluate((el) => el.textContent ?? '');
      expect(said).toContain('The Lounge');
      expect(said).toContain(host);
      expect((await carol.ui.request({ type: 'getSettings' })).enabledSites).not.toContain(host);
      await dressed.popup.click(hook('suggest-enable'));
      await dressed.popup.waitForSelector(`${hook('site-suggestion')} [role="status"]`);
      expect((await carol.ui.request({ type: 'getSettings' })).enabledSites).toContain(host);
      await dressed.popup.close();
      await dressed.page.close();
      // Now that site gets Veil's content script.
      const enabled = await visit(carol, `${other.href}?user=carol`);
      expect(enabled.extensionWorlds).toEqual([carol.session.origin.replace(/\/$/, '')]);
    }),
  );
});
