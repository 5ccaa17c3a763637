// The reach flows in Firefox ESR (the Firefox build), with a Chromium profile on the other side:
// a single-page app with no hints whose compose box appears after sign-in and whose first
// message is alone in its list (tests/fixtures/local-chat/app.html), and "Teach Veil this site"
// on a page Veil's guesses get wrong (odd.html), started from the popup and picked with the
// user's own clicks.
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openComposerTo, type ChromiumPerson } from './chromium-person';
import {
  chromiumPath,
  firefoxPath,
  launchFirefox,
  openFirefoxExtensionPage,
  type FirefoxSession,
} from './harness';
import { localChatCast } from './local-chat-cast';
import { clickSend } from './composer-send';
import { hook, OptionsPage } from './options-page';
import { readerShowing } from './reader-text';

const TO_ERIN = 'the ferry leaves at nine, not ten';
const TO_BOB = 'then we meet at the pier';
const ODD = 'bring the spare key for the shed';

describe.skipIf(!chromiumPath || !firefoxPath)('reach in Firefox ESR', () => {
  const cast = localChatCast<ChromiumPerson>(inject('chromeExtensionDir'));
  let firefox: FirefoxSession | undefined;
  let erin: { ui: OptionsPage; page: Page };

  beforeAll(async () => {
    firefox = await launchFirefox({ extensionDir: inject('firefoxExtensionDir') });
    const options = await openFirefoxExtensionPage(firefox.browser, 'options.html');
    const ui = new OptionsPage(options, firefox.origin);
    await ui.onboard('erin', cast.directory().url);
    await ui.enableSite(cast.chat().host);
    erin = { ui, page: await firefox.browser.newPage({ type: 'window' }) };
  });

  afterAll(async () => {
    await firefox?.close();
  });

  async function signIn(page: Page, me: string, peer: string): Promise<void> {
    await page.goto(`${cast.chat().url}/app`);
    await page.type('#login-name', me);
    await page.click('#login-button');
    await page.waitForSelector(`.chat-item[data-peer="${peer}"]`);
    await page.click(`.chat-item[data-peer="${peer}"]`);
    await page.waitForSelector('.composer textarea');
  }

  async function send(page: Page, to: string, text: string): Promise<void> {
    const composer = await openComposerTo(page, to);
    await composer.type(hook('compose-input'), text);
    await clickSend(composer);
    await composer.waitForSelector(`${hook('notice')}[data-veil-kind="success"]`, {
      timeout: 60_000,
    });
    await page.click(hook('toggle'));
  }

  it('a sign-in-first app: the box appears late, the first message is alone, both ways', async () => {
    const bob = await cast.onboard('bob');
    const bobPage = await bob.session.browser.newPage();
    await bobPage.setViewport({ width: 1000, height: 700 });
    await signIn(bobPage, 'bob', 'erin');
    await signIn(erin.page, 'erin', 'bob');
    await erin.page.waitForSelector(hook('toggle'), { timeout: 15_000 });
    await bobPage.bringToFront();
    await send(bobPage, 'erin', TO_ERIN);
    expect(await readerShowing(erin.page, TO_ERIN)).toBe(true);
    await send(erin.page, 'bob', TO_BOB);
    await bobPage.bringToFront();
    expect(await readerShowing(bobPage, TO_BOB)).toBe(true);
  });

  it('Teach Veil this site: the picker takes the user’s clicks, and Veil reads the page', async () => {
    const bob = cast.find('bob')!;
    const bobPage = await bob.session.browser.newPage();
    await bobPage.goto(`${cast.chat().url}/odd?user=bob`);
    await erin.page.goto(`${cast.chat().url}/odd?user=erin`);
    await erin.page.waitForSelector(hook('toggle'), { timeout: 15_000 });
    await bobPage.waitForSelector(hook('toggle'), { timeout: 15_000 });
    await bobPage.bringToFront();
    await send(bobPage, 'erin', ODD);
    await erin.page.waitForSelector('.chat .line .said');
    expect(await readerShowing(erin.page, ODD, 3_000)).toBe(false);

    // The popup about erin's tab, as a page (a popup opened as a page is the active tab).
    const tabId = await erin.ui.page.evaluate(async (u: string) => {
      const api = (
        globalThis as unknown as {
          browser: { tabs: { query(q: object): Promise<{ id?: number; url?: string }[]> } };
        }
      ).browser;
      // Firefox's URL patterns take no port: look through the tabs instead.
      const tabs = (await api.tabs.query({})) as { id?: number; url?: string }[];
      return tabs.find((t) => t.url?.startsWith(u))!.id!;
    }, `${cast.chat().url}/odd`);
    const popup = await openFirefoxExtensionPage(firefox!.browser, `popup.html?tab=${tabId}`);
    await popup.waitForSelector(hook('teach-site'), { timeout: 15_000 });
    await popup.click(hook('teach-site'));
    await erin.page.waitForSelector(hook('picker'));
    await erin.page.click('.typebox');
    await erin.page.waitForSelector(`${hook('picker')}[data-veil-step="message"]`);
    await erin.page.click('.chat .line .said');
    await erin.page.waitForSelector(hook('picker'), { hidden: true });
    expect(await readerShowing(erin.page, ODD)).toBe(true);
    const { profiles } = await erin.ui.request({ type: 'listSiteProfiles' });
    expect(profiles.map((p) => p.host)).toEqual([cast.chat().host]);
  });
});
