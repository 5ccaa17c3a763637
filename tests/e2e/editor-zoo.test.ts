// Two people write to each other through each page of the editor zoo (tests/fixtures/editor-zoo:
// the real editor libraries the big chat apps use), with the built extension in Chromium: Veil's
// armor goes into the editor so that its model holds exactly it, the page sends it, renders it
// (markdown, links, emoji, mentions), and the other side reads the exact text, also a message
// long enough to be cut into chunks under the page's 2,000-character limit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildZoo, zooEditors } from '../fixtures/editor-zoo/build';
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

const SHORT = 'meet me by the *old* mill at :wave: six, @bob';
const LONG = Array.from({ length: 60 }, (_, i) => `line ${i}: the heron waits.`)
  .join(' ')
  .repeat(2);

interface Person extends ChromiumPerson {
  page?: Page;
}

describe.skipIf(!chromiumPath)('the editor zoo, end to end (Chromium)', () => {
  const zooDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-zoo-'));
  const built = buildZoo(zooDir);
  const cast = localChatCast<Person>(inject('chromeExtensionDir'), { zooDir });
  afterAll(() => fs.rmSync(zooDir, { recursive: true, force: true }));

  async function open(person: Person, editor: string): Promise<Page> {
    person.page ??= await person.session.browser.newPage();
    return openZoo(person.page, editor, person.handle);
  }

  async function openZoo(page: Page, editor: string, handle: string): Promise<Page> {
    await page.setViewport({ width: 1000, height: 800 });
    await page.bringToFront();
    await page.goto(`${cast.chat().url}/zoo/${editor}?user=${handle}`);
    await page.waitForSelector(hook('toggle'), { timeout: 15_000 });
    return page;
  }

  async function write(page: Page, to: string, text: string): Promise<void> {
    await page.bringToFront();
    const composer = await openComposerTo(page, to);
    await composer.evaluate(
      (sel: string, t: string) => {
        const input = document.querySelector<HTMLTextAreaElement>(sel)!;
        input.value = t;
        input.dispatchEvent(new Event('input', { bubbles: true }));
      },
      hook('compose-input'),
      text,
    );
    await clickSend(composer);
    await composer.waitForSelector(`${hook('notice')}[data-veil-kind="success"]`, {
      timeout: 60_000,
    });
    await page.click(hook('toggle'));
  }

  it.each(zooEditors)(
    '%s: sends through the model, survives rendering, decrypts',
    async (editor) => {
      await built;
      const alice = cast.find('alice') ?? (await cast.onboard('alice'));
      const bob = cast.find('bob') ?? (await cast.onboard('bob'));
      const alicePage = await open(alice, editor);
      const bobPage = await open(bob, editor);
      const before = cast.chat().messages.length;

      await write(alicePage, 'bob', SHORT);
      await bobPage.bringToFront();
      expect(await readerShowing(bobPage, SHORT)).toBe(true);

      await write(alicePage, 'bob', LONG);
      const posted = cast
        .chat()
        .messages.slice(before)
        .filter((m) => m.room === `zoo:${editor}`);
      // Every line the page posted is armor; the long one went as several chunks of ≤ 2,000.
      expect(posted.every((m) => /^VeiL[AB]\w+$/.test(m.text) && m.text.length <= 2_000)).toBe(
        true,
      );
      expect(posted.length).toBeGreaterThanOrEqual(3);
      await bobPage.bringToFront();
      expect(await readerShowing(bobPage, LONG)).toBe(true);

      await write(bobPage, 'alice', 'ok');
      await alicePage.bringToFront();
      expect(await readerShowing(alicePage, 'ok')).toBe(true);
    },
  );

  describe.skipIf(!firefoxPath)('Firefox ESR', () => {
    let firefox: FirefoxSession | undefined;
    let erin: Page;

    beforeAll(async () => {
      await built;
      firefox = await launchFirefox({ extensionDir: inject('firefoxExtensionDir') });
      const options = await openFirefoxExtensionPage(firefox.browser, 'options.html');
      const ui = new OptionsPage(options, firefox.origin);
      await ui.onboard('erin', cast.directory().url);
      await ui.enableSite(cast.chat().host);
      erin = await firefox.browser.newPage({ type: 'window' });
    });

    afterAll(async () => {
      await firefox?.close();
    });

    it.each(zooEditors)(
      '%s: erin (Firefox) writes to bob, and reads his answer',
      async (editor) => {
        const bob = cast.find('bob') ?? (await cast.onboard('bob'));
        await openZoo(erin, editor, 'erin');
        const bobPage = await open(bob, editor);
        const text = `erin in firefox, through ${editor}: the otters are back`;
        await write(erin, 'bob', text);
        await bobPage.bringToFront();
        expect(await readerShowing(bobPage, text)).toBe(true);
        await write(bobPage, 'erin', `bob to erin via ${editor}`);
        expect(await readerShowing(erin, `bob to erin via ${editor}`)).toBe(true);
      },
    );
  });
});
