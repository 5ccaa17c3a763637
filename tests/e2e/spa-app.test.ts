// Veil on a single-page chat app nobody wrote an adapter for, used as a new user would (the
// review's unseen app): a sign-in form first, chats drawn after a session call, a sidebar whose
// previews show the start of each chat's last message, each side's address naming the other
// person, the first message of a chat alone in its list, and the host's textarea and Send button
// in one flex row, sending what the app's own model holds (tests/fixtures/local-chat/app.js).
// Two Chromium profiles with the built extension; Veil is enabled for the site in Settings →
// Sites and nothing in the page hints at Veil.
import type { Page } from 'puppeteer-core';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { LocalChat } from '../fixtures/local-chat/server';
import { localChatCast } from './local-chat-cast';
import { openComposerTo, type ChromiumPerson } from './chromium-person';
import { chromiumPath, frameOf } from './harness';
import { clickSend } from './composer-send';
import { hook } from './options-page';
import { readerShowing } from './reader-text';

const FIRST = 'the kingfisher waits on the lowest branch';
const REPLY = 'and the heron\npretends not to see it';

interface Person extends ChromiumPerson {
  chat?: Page;
}

describe.skipIf(!chromiumPath)('Veil on a single-page chat app with no adapter (Chromium)', () => {
  const cast = localChatCast<Person>(inject('chromeExtensionDir'));
  let chat: LocalChat;
  beforeAll(() => {
    chat = cast.chat();
  });

  /** Opens the app, signs in as the person and opens the chat with `peer`. */
  async function openChat(person: Person, peer: string): Promise<Page> {
    const page = await person.session.browser.newPage();
    await page.setViewport({ width: 1000, height: 700 });
    await page.bringToFront();
    await page.goto(`${chat.url}/app`);
    await page.type('#login-name', person.handle);
    await page.click('#login-button');
    await page.waitForSelector(`.chat-item[data-peer="${peer}"]`);
    await page.click(`.chat-item[data-peer="${peer}"]`);
    await page.waitForSelector('.composer textarea');
    person.chat = page;
    return page;
  }

  /** Writes `text` to `to` in the composer frame and waits until Veil says it was sent. */
  async function write(page: Page, to: string, text: string): Promise<void> {
    const composer = await openComposerTo(page, to);
    await composer.type(hook('compose-input'), text);
    await clickSend(composer);
    await composer.waitForSelector(`${hook('notice')}[data-veil-kind="success"]`, {
      timeout: 60_000,
    });
  }

  it('finds the compose box drawn after sign-in, and keeps the host row usable', async () => {
    const alice = await cast.onboard('alice');
    const page = await openChat(alice, 'bob');
    await page.waitForSelector(hook('toggle'), { timeout: 10_000 });
    const width = () => page.$eval('.composer textarea', (el) => el.getBoundingClientRect().width);
    const before = await width();
    await page.click(hook('toggle'));
    const frame = await page.waitForSelector(`iframe${hook('composer')}`);
    // Veil's toggle and composer do not squeeze the host's textarea out of its row.
    expect(await width()).toBeGreaterThan(before * 0.6);
    // The composer sits in the page's view, its security phrase in the frame's own view.
    const composer = await frameOf(page, `iframe${hook('composer')}`);
    const phrase = await composer.waitForSelector(hook('security-phrase'));
    const box = await frame!.boundingBox();
    expect(box!.y + box!.height).toBeLessThanOrEqual(700);
    const inFrame = await phrase!.evaluate((el) => {
      const r = el.getBoundingClientRect();
      return r.top >= 0 && r.bottom <= window.innerHeight;
    });
    expect(inFrame).toBe(true);
    // Esc gives the keyboard back to the host's own box.
    await composer.type(hook('compose-input'), 'never mind');
    await page.keyboard.press('Escape');
    await page.waitForFunction(
      () => document.activeElement === document.querySelector('.composer textarea'),
      { timeout: 10_000 },
    );
    await page.click(hook('toggle'));
    await page.waitForSelector(`iframe${hook('composer')}`, { hidden: true });
  });

  it('carries the first message of a chat, alone in its list, and the reply', async () => {
    const alice = cast.find('alice')!;
    const bob = await cast.onboard('bob');
    const bobPage = await openChat(bob, 'alice');
    await write(alice.chat!, 'bob', FIRST);
    const room = chat.messages.filter((m) => m.room === 'dm:alice,bob');
    expect(room.length).toBeGreaterThan(0);
    expect(room.every((m) => m.text.startsWith('VeiL'))).toBe(true);

    // Bob's address names alice and alice's names bob; the message is alone in his list and
    // the start of its armor shows in his sidebar.
    expect(await readerShowing(bobPage, FIRST)).toBe(true);
    expect(
      await bobPage.$$eval(
        `.sidebar ${hook('message')}, .sidebar ${hook('message-pending')}`,
        (els) => els.length,
      ),
    ).toBe(0);
    expect(await bobPage.$eval('.messages', (el) => el.textContent)).not.toContain(FIRST);

    // Bob answers with the keyboard only: Shift+Enter is a new line, Enter sends.
    const composer = await openComposerTo(bobPage, 'alice');
    const [first, second] = REPLY.split('\n') as [string, string];
    await composer.type(hook('compose-input'), first);
    await bobPage.keyboard.down('Shift');
    await bobPage.keyboard.press('Enter');
    await bobPage.keyboard.up('Shift');
    await composer.type(hook('compose-input'), second);
    await bobPage.keyboard.press('Enter');
    await composer.waitForSelector(`${hook('notice')}[data-veil-kind="success"]`, {
      timeout: 60_000,
    });
    expect(await readerShowing(alice.chat!, REPLY)).toBe(true);
  });
  it('fits the composer in a chat: short, phrase and Add in view, grows only for long text', async () => {
    const alice = cast.find('alice')!;
    const page = alice.chat!;
    if (await page.$(`iframe${hook('composer')}`)) await page.click(hook('toggle'));
    const composer = await openComposerTo(page, 'bob');
    const frameHeight = () =>
      page.$eval(`iframe${hook('composer')}`, (el) => el.getBoundingClientRect().height);
    const hostHeight = await page.$eval('.composer', (el) => el.getBoundingClientRect().height);
    // About the host's own box: three short rows, not the old 240 px.
    expect(await frameHeight()).toBeLessThanOrEqual(Math.max(110, hostHeight * 2.5));

    // Many recipients scroll sideways; the phrase and Add stay whole and on top.
    const extras = ['carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];
    for (const extra of extras) {
      await composer.type(hook('recipient-input'), extra);
      await composer.click(hook('recipient-add'));
      await composer.waitForSelector(`${hook('recipients')} input[value="${extra}"]`);
    }
    for (const what of ['security-phrase', 'recipient-add', 'recipient-input', 'compose-send']) {
      const seen = await composer.$eval(hook(what), (el) => {
        const r = el.getBoundingClientRect();
        const inView =
          r.left >= 0 && r.top >= 0 && r.right <= innerWidth && r.bottom <= innerHeight;
        const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return inView && (top === el || el.contains(top));
      });
      expect(seen, what).toBe(true);
    }

    // Text that needs more room grows the frame once; Send waits for the new size.
    for (const extra of extras)
      await composer.click(`${hook('recipients')} input[value="${extra}"]`);
    await composer.waitForSelector(`${hook('recipients')} input[value="heidi"]:not(:checked)`);
    await composer.type(hook('compose-input'), 'the tide comes in over the flats '.repeat(12));
    await composer.waitForSelector('form.composer[data-veil-size="tall"]');
    await page.waitForFunction(
      (sel) => document.querySelector(sel)!.getBoundingClientRect().height >= 200,
      {},
      `iframe${hook('composer')}`,
    );
    // Deleting the text does not shrink it again: the page sees no size that follows the draft.
    await composer.click(hook('compose-input'));
    await page.keyboard.down('Control');
    await page.keyboard.press('KeyA');
    await page.keyboard.up('Control');
    await page.keyboard.press('Backspace');
    expect(await frameHeight()).toBeGreaterThanOrEqual(200);
    await composer.type(hook('compose-input'), 'short again');
    await clickSend(composer);
    await composer.waitForSelector(`${hook('notice')}[data-veil-kind="success"]`, {
      timeout: 60_000,
    });
    // Sent: back to the chat box's size.
    await page.waitForFunction(
      (sel) => document.querySelector(sel)!.getBoundingClientRect().height < 120,
      {},
      `iframe${hook('composer')}`,
    );
    expect(await readerShowing(cast.find('bob')!.chat!, 'short again')).toBe(true);
  });
});
