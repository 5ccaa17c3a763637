// A hostile chat page redressing Veil's frames (Chromium, built extension, local chat page): it
// fades, transforms or lays an invisible box over the composer, covers a reader's text with its
// own words, and takes the keyboard away mid-typing. The composer must refuse to send and say
// why (and send once it shows as drawn), a covered reader must hold its text back, and the
// composer must say when the keyboard was taken. Last, the lock: locking takes the text off
// every open reader and composer.
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startLocalChat, type LocalChat } from '../fixtures/local-chat/server';
import { onboardInChromium, openComposerTo, type ChromiumPerson } from './chromium-person';
import { startDirectory, type DirectoryServer } from './directory-server';
import { chromiumPath, frameOf, timed } from './harness';
import { clickSend } from './composer-send';
import { hook, SECTION } from './options-page';

/** What the page does to the composer (or its place in the page); returns how to undo it. */
type Attack = (page: Page) => Promise<() => Promise<void>>;

/** Sets one style on the element that holds Veil's composer wrapper (the host's own). */
function styleAncestor(property: 'opacity' | 'transform', value: string): Attack {
  const set = (page: Page, v: string) =>
    page.evaluate(
      (p: string, v: string) => {
        const host =
          document.querySelector('[data-veil="composer"]')!.parentElement!.parentElement!;
        host.style.setProperty(p, v);
      },
      property,
      v,
    );
  return async (page) => {
    await set(page, value);
    return () => set(page, '').then(() => undefined);
  };
}

const fadeAncestor = styleAncestor('opacity', '0.9');
/** Shrinking can hide what is drawn; Chromium lets enlargements and moves pass. */
const scaleAncestor = styleAncestor('transform', 'scale(0.98)');

/** A transparent text box of the page's own over the composer's text area. */
const invisibleInput: Attack = async (page) => {
  await page.evaluate(() => {
    const r = document.querySelector('[data-veil="composer"]')!.getBoundingClientRect();
    const input = document.createElement('textarea');
    input.id = 'trap';
    input.style.cssText = `position:fixed;left:${r.left}px;top:${r.top + r.height / 2}px;width:${r.width}px;height:${r.height / 3}px;background:transparent;border:0;color:transparent;z-index:99999`;
    document.body.append(input);
  });
  return () => page.evaluate(() => document.getElementById('trap')!.remove());
};

if (!chromiumPath) console.warn('[e2e] skipping redress attacks: no Chromium found');

describe.skipIf(!chromiumPath)('a hostile page redressing Veil’s frames (Chromium)', () => {
  const extensionDir = inject('chromeExtensionDir');
  let directory: DirectoryServer;
  let chat: LocalChat;
  const people: ChromiumPerson[] = [];
  let alice: ChromiumPerson;
  let bob: ChromiumPerson;

  async function openChat(person: ChromiumPerson): Promise<Page> {
    const page = await person.session.browser.newPage();
    await page.setViewport({ width: 1000, height: 900 });
    // The tab the user looks at: a hidden one renders nothing, so its readers (which show text
    // only once they know what the page shows of them) would wait.
    await page.bringToFront();
    await page.goto(`${chat.url}/?user=${person.handle}`);
    await page.waitForSelector(hook('toggle'));
    return page;
  }

  beforeAll(async () => {
    directory = await startDirectory();
    chat = await startLocalChat();
    for (const handle of ['alice', 'bob'])
      people.push(
        await onboardInChromium(handle, {
          extensionDir,
          directoryUrl: directory.url,
          site: chat.host,
        }),
      );
    [alice, bob] = people as [ChromiumPerson, ChromiumPerson];
  });

  afterAll(async () => {
    for (const p of people) await p.session.close();
    await chat?.close();
    await directory?.stop();
  });

  it(
    'a composer the page fades, scales or lays a box over does not send, says why, and sends once shown as drawn',
    timed('redress: composer', async () => {
      const page = await openChat(alice);
      try {
        const composer = await openComposerTo(page, 'bob');
        await composer.type(hook('compose-input'), 'the door code is 4711');
        const before = chat.messages.length;
        for (const attack of [fadeAncestor, scaleAncestor, invisibleInput]) {
          const undo = await attack(page);
          await composer.waitForSelector(`${hook('obscured')}[data-veil-sight="obscured"]`, {
            timeout: 10_000,
          });
          // Send, as a script inside the frame would (the page's box would catch a real click).
          await composer.$eval(hook('compose-send'), (b) => (b as HTMLButtonElement).click());
          await composer.waitForSelector(`${hook('notice')}[data-veil-kind="error"]`);
          await new Promise((r) => setTimeout(r, 1_000));
          expect(chat.messages.length).toBe(before);
          await undo();
          await composer.waitForSelector(hook('obscured'), { hidden: true, timeout: 10_000 });
        }
        // What honest pages do for their own layers (translateZ(0)) is no redress: it sends.
        await styleAncestor('transform', 'translateZ(0)')(page);
        await clickSend(composer);
        await composer.waitForSelector(`${hook('notice')}[data-veil-kind="success"]`, {
          timeout: 60_000,
        });
        expect(chat.messages.length).toBeGreaterThan(before);
      } finally {
        await page.close();
      }
    }),
  );

  it(
    'a reader the page covers with its own words holds its text back until uncovered',
    timed('redress: reader', async () => {
      const page = await openChat(bob);
      try {
        const handle = await page.waitForSelector(`${hook('message')} iframe`, {
          timeout: 30_000,
        });
        const reader = (await handle!.contentFrame())!;
        await reader.waitForSelector(hook('plaintext'), { timeout: 30_000 });
        await page.evaluate(() => {
          const r = document.querySelector(`[data-veil="message"] iframe`)!.getBoundingClientRect();
          const fake = document.createElement('div');
          fake.id = 'fake';
          fake.textContent = 'the door code is 0000';
          fake.style.cssText = `position:absolute;left:${r.left + scrollX}px;top:${r.top + scrollY + r.height / 2}px;width:${r.width}px;height:${r.height / 2}px;background:#fff;z-index:99999`;
          document.body.append(fake);
        });
        await reader.waitForSelector(hook('obscured'), { timeout: 10_000 });
        expect(await reader.$(hook('plaintext'))).toBeNull();
        expect(await reader.evaluate(() => document.body.innerText)).not.toContain('4711');
        await page.evaluate(() => document.getElementById('fake')!.remove());
        await reader.waitForSelector(hook('plaintext'), { timeout: 10_000 });
        expect(await reader.$eval(hook('plaintext'), (el) => el.textContent)).toBe(
          'the door code is 4711',
        );
        // Scrolled partly out of the window is not covered: the text stays.
        await page.evaluate(() => {
          const r = document.querySelector(`[data-veil="message"] iframe`)!.getBoundingClientRect();
          document.documentElement.style.paddingBottom = '2000px';
          scrollBy(0, r.top + r.height / 2);
        });
        await new Promise((r) => setTimeout(r, 500));
        expect(await reader.$(hook('plaintext'))).not.toBeNull();
      } finally {
        await page.close();
      }
    }),
  );

  it(
    'the composer says so when the page takes the keyboard mid-typing',
    timed('redress: focus', async () => {
      const page = await openChat(alice);
      try {
        const composer = await openComposerTo(page, 'bob');
        await composer.type(hook('compose-input'), 'half a sente');
        await page.evaluate(() => document.getElementById('box')!.focus());
        await composer.waitForSelector(hook('focus-lost'), { timeout: 10_000 });
        // Typing in Veil again clears it.
        await composer.type(hook('compose-input'), 'nce');
        await composer.waitForSelector(hook('focus-lost'), { hidden: true, timeout: 10_000 });
      } finally {
        await page.close();
      }
    }),
  );

  it(
    'locking takes the text off open readers and composers; unlocking shows the readers again',
    timed('lock wipes frames', async () => {
      const passphrase = 'a long lock passphrase';
      const { ui } = bob;
      await ui.page.bringToFront();
      await ui.go('#settings');
      await ui.fill(hook('lock-passphrase'), passphrase);
      await ui.fill(hook('lock-passphrase-confirm'), passphrase);
      await ui.click(hook('set-lock'));
      await ui.success(SECTION.lock, 60_000);
      const page = await openChat(bob);
      try {
        const handle = await page.waitForSelector(`${hook('message')} iframe`, {
          timeout: 30_000,
        });
        const reader = (await handle!.contentFrame())!;
        await reader.waitForSelector(hook('plaintext'), { timeout: 30_000 });
        await page.click(hook('toggle'));
        const composer = await frameOf(page, `iframe${hook('composer')}`);
        await composer.waitForSelector(hook('compose-input'));
        await composer.type(hook('compose-input'), 'typed but not sent');

        // The options page in front, as a user would have it to lock.
        await ui.page.bringToFront();
        await ui.go('#settings');
        await ui.click(hook('lock-now'));
        await reader.waitForSelector(hook('locked'), { timeout: 10_000 });
        await composer.waitForSelector(hook('locked'), { timeout: 10_000 });
        expect(await reader.evaluate(() => document.body.innerText)).not.toContain('4711');
        expect(await composer.evaluate(() => document.body.innerText)).not.toContain(
          'typed but not sent',
        );
        expect(await composer.$(hook('compose-input'))).toBeNull();

        await ui.fill(hook('unlock-passphrase'), passphrase);
        await ui.click(hook('unlock'));
        await ui.waitFor(hook('lock-now'), 60_000);
        await page.bringToFront();
        await reader.waitForSelector(hook('plaintext'), { timeout: 30_000 });
        await composer.waitForSelector(hook('compose-input'), { timeout: 30_000 });
        // The text typed before the lock is gone for good (the draft went with the lock).
        expect(
          await composer.$eval(hook('compose-input'), (el) => (el as HTMLTextAreaElement).value),
        ).toBe('');
      } finally {
        await page.close();
      }
    }),
  );
});
