// Veil in a page end to end, without IRC: two Chromium profiles with the built extension, each
// onboarded against the real key directory, on a local chat page (tests/fixtures/local-chat)
// that uses the generic adapter's opt-in markup and records what a nosy host could see. Alice
// turns Veil on and types in the composer frame; Bob reads her exact text in a reader frame;
// neither host page ever holds the plaintext, nor can it read the frames.
import type { Page } from 'puppeteer-core';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { readerHeight, textLines } from '../../extension/content/frame-height';
import type { LocalChat } from '../fixtures/local-chat/server';
import { localChatCast } from './local-chat-cast';
import type { ChromiumPerson } from './chromium-person';
import { chromiumPath, frameOf } from './harness';
import { clickSend } from './composer-send';
import { hook } from './options-page';

const SECRET = 'the heron nests behind the old mill';

interface Person extends ChromiumPerson {
  chat?: Page;
}

async function hostSees(page: Page): Promise<string> {
  return page.evaluate(
    () =>
      document.documentElement.outerHTML +
      document.body.innerText +
      ((window as unknown as { hostLog: string[] }).hostLog ?? []).join('\n'),
  );
}

if (!chromiumPath) console.warn('[e2e] skipping in-page flow: no Chromium found');

describe.skipIf(!chromiumPath)('Veil in a local chat page (Chromium)', () => {
  const cast = localChatCast<Person>(inject('chromeExtensionDir'));
  let chat: LocalChat;
  beforeAll(() => {
    chat = cast.chat();
  });
  const onboard = (handle: string) => cast.onboard(handle);

  async function openChat(person: Person): Promise<Page> {
    const page = await person.session.browser.newPage();
    await page.setViewport({ width: 1000, height: 800 });
    // The tab the user looks at: a hidden one renders nothing, so its readers (which show text
    // only once they know what the page shows of them) would wait.
    await page.bringToFront();
    await page.goto(`${chat.url}/?user=${person.handle}`);
    person.chat = page;
    return page;
  }

  it('Alice writes in the composer frame, Bob reads her exact text in a reader frame', async () => {
    const alice = await onboard('alice');
    const bob = await onboard('bob');
    const alicePage = await openChat(alice);
    const bobPage = await openChat(bob);

    // Alice turns Veil on and writes to Bob in the extension-origin composer.
    await alicePage.click(hook('toggle'), { delay: 10 });
    const composer = await frameOf(alicePage, `iframe${hook('composer')}`);
    await composer.waitForSelector(hook('recipients'));
    await composer.type(hook('recipient-input'), 'bob');
    await composer.click(hook('recipient-add'));
    await composer.waitForSelector(`${hook('recipients')} input[value="bob"]:checked`);
    await composer.type(hook('compose-input'), SECRET);
    await clickSend(composer);
    await composer.waitForSelector(`${hook('notice')}[data-veil-kind="success"]`, {
      timeout: 60_000,
    });

    // The chat server only ever held armored text.
    expect(chat.messages.length).toBeGreaterThan(0);
    expect(chat.messages.every((m) => m.author === 'alice' && m.text.startsWith('VeiL'))).toBe(
      true,
    );
    expect(JSON.stringify(chat.messages)).not.toContain('heron');

    // Bob's page: a reader frame with Alice's exact text, status unverified.
    const wrapper = await bobPage.waitForSelector(hook('message'), { timeout: 30_000 });
    expect(await wrapper!.evaluate((el) => el.getAttribute('data-veil-status'))).toBe('unverified');
    const reader = await frameOf(bobPage, `${hook('message')} iframe`);
    const plaintext = await reader.waitForSelector(hook('plaintext'));
    expect(await plaintext!.evaluate((el) => el.textContent)).toBe(SECRET);
    expect(await reader.$eval(hook('sender'), (el) => el.textContent)).toBe('alice');
    // Its height says its status and its text's padding bucket, nothing finer.
    expect(
      await wrapper!.evaluate((el) => (el as HTMLElement).getBoundingClientRect().height),
    ).toBe(readerHeight('unverified', textLines(SECRET.length)));

    // Alice's own message renders from her plaintext cache.
    const own = await frameOf(alicePage, `${hook('message')} iframe`);
    const ownText = await own.waitForSelector(hook('plaintext'));
    expect(await ownText!.evaluate((el) => el.textContent)).toBe(SECRET);

    // Neither host page holds the secret in its DOM or in what it recorded, and the frames'
    // documents are closed to it.
    for (const page of [alicePage, bobPage]) {
      expect(await hostSees(page)).not.toContain('heron');
      expect(
        await page.$$eval('iframe', (frames) =>
          frames.map((f) => (f as HTMLIFrameElement).contentDocument === null),
        ),
      ).toEqual(expect.arrayContaining([true]));
      expect(
        await page.$$eval('iframe', (frames) =>
          frames.every((f) => (f as HTMLIFrameElement).contentDocument === null),
        ),
      ).toBe(true);
    }
  });

  it('announces nothing to the page: no window message, no event named for the extension', async () => {
    const bob = cast.find('bob')!;
    const id = bob.session.extensionId;
    // What a page that knows Veil's id could listen for (WXT's content-script context sent
    // these), and every window message at all; installed before any script of the page runs.
    const listen = (names: string[]) => {
      const heard: string[] = ((window as unknown as { heard: string[] }).heard = []);
      window.addEventListener('message', (e) => heard.push(`message ${JSON.stringify(e.data)}`));
      for (const name of names) {
        document.addEventListener(name, () => heard.push(`document ${name}`));
        window.addEventListener(name, () => heard.push(`window ${name}`));
      }
    };
    const names = ['content', 'veil-content'].flatMap((script) =>
      ['wxt:content-script-started', 'wxt:locationchange'].map((e) => `${id}:${script}:${e}`),
    );
    const heard = (page: Page) =>
      page.evaluate(() => (window as unknown as { heard: string[] }).heard);

    // Enabled for the site: the toggle shows the content script ran; then a single-page
    // navigation, which Veil follows.
    const enabled = await bob.session.browser.newPage();
    try {
      await enabled.evaluateOnNewDocument(listen, names);
      await enabled.goto(`${chat.url}/?user=bob`);
      await enabled.waitForSelector(hook('toggle'));
      await enabled.evaluate(() =>
        history.pushState(null, '', `${location.pathname}?user=bob&x=1`),
      );
      await new Promise((r) => setTimeout(r, 300));
      expect(await heard(enabled)).toEqual([]);
    } finally {
      await enabled.close();
    }

    // Not enabled (the same chat under another host name): nothing of Veil at all.
    const dormant = await bob.session.browser.newPage();
    try {
      await dormant.evaluateOnNewDocument(listen, names);
      await dormant.goto(`${chat.url.replace('127.0.0.1', 'localhost')}/?user=bob`);
      await new Promise((r) => setTimeout(r, 1000));
      expect(await heard(dormant)).toEqual([]);
      expect(await dormant.$$('[data-veil="toggle"], [data-veil="message"]')).toEqual([]);
    } finally {
      await dormant.close();
    }
  });

  it('opens the composer on a real click only, never on a click the page scripted', async () => {
    const bob = cast.find('bob')!;
    const page = await bob.session.browser.newPage();
    try {
      await page.goto(`${chat.url}/?user=bob`);
      await page.waitForSelector(hook('toggle'));
      // The page clicks, or dispatches a click event, itself: untrusted either way.
      for (const how of ['click', 'dispatch'] as const) {
        await page.evaluate((how) => {
          const toggle = document.querySelector<HTMLElement>('[data-veil="toggle"]')!;
          if (how === 'click') toggle.click();
          else toggle.dispatchEvent(new MouseEvent('click', { bubbles: true }));
        }, how);
        await new Promise((r) => setTimeout(r, 500));
        expect(await page.$(`iframe${hook('composer')}`)).toBeNull();
        expect(await page.$eval(hook('toggle'), (el) => el.getAttribute('aria-pressed'))).toBe(
          'false',
        );
      }
      // The user's click (browser input) opens it.
      await page.click(hook('toggle'));
      await page.waitForSelector(`iframe${hook('composer')}`, { timeout: 10_000 });
      expect(await page.$eval(hook('toggle'), (el) => el.getAttribute('aria-pressed'))).toBe(
        'true',
      );
    } finally {
      await page.close();
    }
  });

  it('shows the same block again after a reload, from the cache', async () => {
    const bob = cast.find('bob')!;
    await bob.chat!.reload();
    const reader = await frameOf(bob.chat!, `${hook('message')} iframe`);
    const plaintext = await reader.waitForSelector(hook('plaintext'));
    expect(await plaintext!.evaluate((el) => el.textContent)).toBe(SECRET);
    expect(
      await bob.chat!.$eval(hook('message'), (el) => el.getAttribute('data-veil-status')),
    ).toBe('unverified');
  });

  it('keeps the draft when the host re-renders its form and the composer frame reloads', async () => {
    const draft = 'the otter keeps its draft';
    const bob = cast.find('bob') ?? (await onboard('bob'));
    const page = await bob.session.browser.newPage();
    try {
      await page.goto(`${chat.url}/?user=bob`);
      await page.waitForSelector(hook('toggle'));
      await page.click(hook('toggle'));
      const composer = await frameOf(page, `iframe${hook('composer')}`);
      await composer.waitForSelector(hook('recipients'));
      await composer.type(hook('compose-input'), draft);
      // Past the composer's pause before it saves the draft (300 ms).
      await new Promise((r) => setTimeout(r, 600));
      // Marks this document, so the frame found afterwards is known to be a reloaded one.
      await composer.evaluate(() => {
        (window as unknown as { beforeRerender: boolean }).beforeRerender = true;
      });

      // The host re-renders everything after its message list from its own markup: Veil's
      // wrapper, which sits just before the form, goes with it (replacing the form alone would
      // leave the wrapper in place).
      const detached = await page.evaluate(() => {
        const wrapper = document.querySelector('iframe[data-veil="composer"]')!.parentElement!;
        const log = document.getElementById('log')!;
        const form = document.getElementById('form')!.cloneNode(true) as HTMLElement;
        form.querySelector('[data-veil="toggle"]')?.remove();
        while (log.nextSibling) log.nextSibling.remove();
        log.after(form);
        return !wrapper.isConnected;
      });
      expect(detached).toBe(true);

      // The content script puts the composer back; its frame reloads and gets the draft back.
      await page.waitForSelector(`iframe${hook('composer')}`, { timeout: 10_000 });
      const reloaded = await page.waitForFrame(
        (f) =>
          f !== composer && !f.detached && f.url().startsWith(`${bob.session.origin}composer.html`),
        { timeout: 10_000 },
      );
      await reloaded.waitForFunction(
        (sel: string, text: string) =>
          document.querySelector<HTMLTextAreaElement>(sel)?.value === text,
        { timeout: 10_000 },
        hook('compose-input'),
        draft,
      );
      expect(await reloaded.evaluate(() => 'beforeRerender' in window)).toBe(false);
      expect(await hostSees(page)).not.toContain('otter');
    } finally {
      await page.close();
    }
  });
});
