// "Teach Veil this site", end to end in Chromium with the built extension, on a chat page whose
// markup Veil's guesses get wrong (tests/fixtures/local-chat/odd.html: messages in a plain div
// beside a news feed holding more text, nothing scrolls or is a list). Bob's Veil reads nothing
// there until he opens the popup, starts the picker and points at the box he types in and at one
// message; from then on Veil reads the page, also after a reload. When the page's markup changes
// under the profile, the popup says so. The profile leaves as a file and comes back from one; a
// broken file changes nothing and says why.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ElementHandle, Page } from 'puppeteer-core';
import { describe, expect, inject, it } from 'vitest';
import { openComposerTo, openPopupFor, type ChromiumPerson } from './chromium-person';
import { chromiumPath } from './harness';
import { localChatCast } from './local-chat-cast';
import { clickSend } from './composer-send';
import { hook } from './options-page';
import { readerShowing } from './reader-text';

const SECRET = 'the lock on the boathouse is the old one';

interface Person extends ChromiumPerson {
  page?: Page;
}

describe.skipIf(!chromiumPath)('Teach Veil this site (Chromium)', () => {
  const cast = localChatCast<Person>(inject('chromeExtensionDir'));

  async function open(person: Person): Promise<Page> {
    const page = await person.session.browser.newPage();
    await page.setViewport({ width: 1000, height: 800 });
    await page.bringToFront();
    await page.goto(`${cast.chat().url}/odd?user=${person.handle}`);
    await page.waitForSelector(hook('toggle'), { timeout: 15_000 });
    person.page = page;
    return page;
  }

  /** The popup about `page`'s tab, as a page (`popup.html?tab=<id>`). */
  async function popupFor(person: Person, page: Page): Promise<Page> {
    const popup = await openPopupFor(person, page.url());
    await popup.waitForSelector(hook('site-panel'), { timeout: 15_000 });
    return popup;
  }

  it('reads nothing on a page it guesses wrong, until the user points at the box and a message', async () => {
    const alice = await cast.onboard('alice');
    const bob = await cast.onboard('bob');
    const alicePage = await open(alice);
    const bobPage = await open(bob);
    const composer = await openComposerTo(alicePage, 'bob');
    await composer.type(hook('compose-input'), SECRET);
    await clickSend(composer);
    await composer.waitForSelector(`${hook('notice')}[data-veil-kind="success"]`, {
      timeout: 60_000,
    });
    await bobPage.bringToFront();
    await bobPage.waitForSelector('.chat .line .said');
    // The guess: the news feed is the message list. Nothing is read.
    expect(await readerShowing(bobPage, SECRET, 3_000)).toBe(false);

    const popup = await popupFor(bob, bobPage);
    await popup.click(hook('teach-site'));
    await bobPage.bringToFront();
    await bobPage.waitForSelector(hook('picker'));
    // The page's own handlers do not see the clicks while the user picks.
    await bobPage.evaluate(() => {
      (window as unknown as { clicks: number }).clicks = 0;
      document.addEventListener('click', () => (window as unknown as { clicks: number }).clicks++);
    });
    await bobPage.click('.typebox');
    await bobPage.waitForSelector(`${hook('picker')}[data-veil-step="message"]`);
    await bobPage.click('.chat .line .said');
    await bobPage.waitForSelector(hook('picker'), { hidden: true });
    expect(await bobPage.evaluate(() => (window as unknown as { clicks: number }).clicks)).toBe(0);
    expect(await readerShowing(bobPage, SECRET)).toBe(true);

    const { profiles } = await bob.ui.request({ type: 'listSiteProfiles' });
    expect(profiles).toHaveLength(1);
    expect(profiles[0]!.host).toBe(cast.chat().host);

    // Every visit after: the profile is used from the start.
    await bobPage.reload();
    expect(await readerShowing(bobPage, SECRET)).toBe(true);
  });

  it('a page script cannot start the picker or save a profile', async () => {
    const bob = cast.find('bob')!;
    const page = bob.page!;
    await bob.ui.request({ type: 'deleteSiteProfile', host: cast.chat().host });
    // Whatever the page dispatches or posts, no picker appears and nothing is saved.
    await page.evaluate(() => {
      window.postMessage({ type: 'veil:pick', token: 'AAAAAAAAAAAAAAAAAAAAAA' }, '*');
      document.dispatchEvent(new CustomEvent('veil:pick'));
    });
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await page.$(hook('picker'))).toBeNull();
    expect((await bob.ui.request({ type: 'listSiteProfiles' })).profiles).toEqual([]);
  });

  it('leaves as a file and comes back from one; a broken file changes nothing', async () => {
    const bob = cast.find('bob')!;
    const host = cast.chat().host;
    const profile = {
      veilSiteProfile: 1,
      host,
      selectors: {
        composeBox: 'div.typebox',
        messageList: 'div.chat',
        message: 'div.chat > div.line',
      },
      maxMessageLength: 2000,
    };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-profile-'));
    try {
      const good = path.join(dir, 'good.json');
      const broken = path.join(dir, 'broken.json');
      fs.writeFileSync(good, JSON.stringify(profile));
      fs.writeFileSync(broken, JSON.stringify({ ...profile, selectors: { composeBox: '<img>' } }));
      await bob.ui.go('#settings');
      const input = (await bob.ui.page.waitForSelector(
        `input${hook('import-profile')}`,
      )) as ElementHandle<HTMLInputElement> | null;
      await input!.uploadFile(broken);
      await bob.ui.page.waitForSelector(
        `${hook('site-profiles')} ${hook('notice')}[data-veil-kind="error"]`,
      );
      expect((await bob.ui.request({ type: 'listSiteProfiles' })).profiles).toEqual([]);
      await input!.uploadFile(good);
      await bob.ui.page.waitForSelector(`${hook('site-profile')}[data-veil-host="${host}"]`);
      expect((await bob.ui.request({ type: 'listSiteProfiles' })).profiles).toEqual([profile]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // The imported profile reads the page.
    await bob.page!.reload();
    expect(await readerShowing(bob.page!, SECRET)).toBe(true);
  });

  it('says in the popup when the page no longer matches what it was taught', async () => {
    const bob = cast.find('bob')!;
    const page = bob.page!;
    await page.evaluate(() => {
      document.querySelector('.typebox')!.className = 'editor-v2';
      document.querySelector('.chat')!.className = 'thread-v2';
    });
    const popup = await popupFor(bob, page);
    const problem = await popup.waitForSelector(hook('site-problem'), { timeout: 10_000 });
    expect(await problem!.evaluate((el) => el.textContent)).toMatch(/no longer finds/);
  });
});
