// The generic adapter's insertion into the real editor libraries the big chat apps use (the
// editor zoo, tests/fixtures/editor-zoo), in plain Chromium: `submit` must leave exactly the
// armor in each editor's *model* (the page sends the model, not the DOM) and send it, and must
// fail loudly, never say sent, when the page does not take the text. The two-profile flow
// through the same pages is editor-zoo.test.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildZoo, zooEditors } from '../fixtures/editor-zoo/build';
import { startLocalChat, type LocalChat } from '../fixtures/local-chat/server';
import { injectAdapters, launchPlainChromium } from './adapter-bundle';
import { chromiumPath } from './harness';

const ARMOR =
  'VeiLA1w2eUwG5VtttVn7JL0USGLl77WLbEz76RYn7kQpV8htm2ek3nCXFwkJkjxjr86Z46kr4wPVKEwJd1Ye';

describe.skipIf(!chromiumPath)('the generic adapter puts text into real editors', () => {
  let browser: Browser;
  let chat: LocalChat;
  let zooDir: string;
  let page: Page;

  beforeAll(async () => {
    zooDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-zoo-'));
    await buildZoo(zooDir);
    chat = await startLocalChat({ zooDir });
    browser = await launchPlainChromium();
    page = await browser.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await chat?.close();
    fs.rmSync(zooDir, { recursive: true, force: true });
  });

  const sent = () => page.evaluate(() => (window as unknown as { sent: string[] }).sent);

  describe.each(zooEditors)('%s', (editor) => {
    beforeAll(async () => {
      await page.goto(`${chat.url}/zoo/${editor}?user=alice`);
      await injectAdapters(page);
      await page.waitForFunction(
        () => veilAdapters.adapterFor(location.href, document)?.composeBox(document) != null,
        { timeout: 15_000 },
      );
    });

    const submit = (text: string) =>
      page.evaluate(
        (t: string) => veilAdapters.adapterFor(location.href, document)!.submit(document, t),
        text,
      );
    const shown = () =>
      page.evaluate(() => {
        const box = veilAdapters.adapterFor(location.href, document)!.composeBox(document)!;
        const area = box as HTMLTextAreaElement;
        return (box.localName === 'textarea' ? area.value : box.innerText).trim();
      });

    it('sends exactly the armor, twice in a row', async () => {
      await submit(`${ARMOR}1`);
      await submit(`${ARMOR}2`);
      expect(await sent()).toEqual([`${ARMOR}1`, `${ARMOR}2`]);
    });

    it("leaves the user's draft in the box, unsent", async () => {
      await page.click('.editor-host');
      await page.keyboard.type('my draft');
      // What the box holds as the user left it (Draft.js may drop a first key after a clear).
      const draft = await shown();
      expect(draft).toMatch(/draft$/);
      await submit(`${ARMOR}3`);
      expect((await sent()).at(-1)).toBe(`${ARMOR}3`);
      expect(await shown()).toBe(draft);
      // The page sends what its model holds: the draft is in it, not only on screen.
      await page.click('.row > button');
      expect((await sent()).at(-1)).toBe(draft);
    });

    it('fails, and takes its armor back out, when the page does not send it', async () => {
      // The page refuses messages over its 2,000-character limit and keeps them in its box.
      const before = (await sent()).length;
      await expect(submit(`${ARMOR}${'x'.repeat(2_000)}`)).rejects.toThrow(/did not accept/);
      expect((await sent()).length).toBe(before);
      expect(await shown()).toBe('');
    });
  });
});
