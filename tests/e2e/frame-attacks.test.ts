// A hostile chat page against Veil's frames, in Chromium with the built extension, on the local
// chat page (generic adapter): it embeds Veil's reader and composer pages itself (with tokens it
// read from Veil's frames' addresses, racing Veil's own frames, or with none), and it probes a
// reader's height at many widths. Veil's own frames must show the text and the security phrase;
// the page's copies only a warning; and heights must not tell two messages of a bucket apart.
import type { Frame, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startLocalChat, type LocalChat } from '../fixtures/local-chat/server';
import { startDirectory, type DirectoryServer } from './directory-server';
import { onboardInChromium, openComposerTo, type ChromiumPerson } from './chromium-person';
import { chromiumPath, frameOf, timed } from './harness';
import { clickSend } from './composer-send';
import { hook } from './options-page';

type Person = ChromiumPerson;

/**
 * Installed before any script of the page: copies every Veil frame the moment it appears (same
 * address, token and all) into a box of its own, and keeps what it made in `window.copies`.
 */
function copyVeilFrames(): void {
  const copies: HTMLIFrameElement[] = ((window as unknown as { copies: unknown }).copies = []);
  // Veil's frames copied once each (an iframe is seen again inside a wrapper added with it).
  const copied = new WeakSet<HTMLIFrameElement>();
  const box = document.createElement('div');
  box.id = 'copies';
  new MutationObserver((records) => {
    for (const r of records)
      for (const node of r.addedNodes) {
        const frames =
          node instanceof HTMLIFrameElement
            ? [node]
            : node instanceof Element
              ? [...node.querySelectorAll('iframe')]
              : [];
        for (const f of frames) {
          if (copies.includes(f) || copied.has(f) || !/\/(reader|composer)\.html/.test(f.src))
            continue;
          copied.add(f);
          const copy = document.createElement('iframe');
          copy.src = f.src;
          copy.style.cssText = 'width:400px;height:200px';
          copies.push(copy);
          if (!box.isConnected) document.body.prepend(box);
          box.append(copy);
        }
      }
  }).observe(document, { childList: true, subtree: true });
}

/**
 * The page's copies of Veil's `kind` frames once each shows `selector` (what a copy must show:
 * the not-placed warning). Asked with 5 s per answer, 90 s in all: on a loaded 2-core machine
 * puppeteer can hold a copy's frame without an execution context (the copies share Veil's own
 * frames' address), so a copy still not answering after 40 s is loaded again once, logged.
 */
async function copiesShowing(
  page: Page,
  kind: 'reader' | 'composer',
  selector: string,
  count: number,
): Promise<Frame[]> {
  const deadline = Date.now() + 90_000;
  const reloadAt = Date.now() + 40_000;
  let reloaded = false;
  const within = <T>(p: Promise<T>, ms: number, fallback: T) =>
    Promise.race([
      p.catch(() => fallback),
      new Promise<T>((r) => setTimeout(() => r(fallback), ms)),
    ]);
  for (;;) {
    const handles = await page.$$(`#copies iframe[src*="/${kind}.html"]`);
    const showing: Frame[] = [];
    const stuck: typeof handles = [];
    for (const handle of handles) {
      const frame = await within(handle.contentFrame(), 5_000, null);
      if (frame && (await within(frame.$(selector).then(Boolean), 5_000, false)))
        showing.push(frame);
      else stuck.push(handle);
    }
    if (handles.length === count && showing.length === count) return showing;
    if (!reloaded && Date.now() > reloadAt) {
      reloaded = true;
      console.log(`[e2e] loading again ${stuck.length} ${kind} cop(ies) not answering`);
      for (const handle of stuck)
        await handle.evaluate(
          (f) => void ((f as HTMLIFrameElement).src = (f as HTMLIFrameElement).src),
        );
    }
    if (Date.now() > deadline)
      throw new Error(`${showing.length} of ${count} ${kind} copies show ${selector}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Waits until the first `count` reader wrappers' frames show their text, looking again at each
 * round (a frame handle taken while its document was still being swapped in can stay without an
 * execution context; a restatus replaces a frame).
 */
async function firstReadersShowText(page: Page, count: number): Promise<void> {
  // Generous: on a loaded 2-core machine a reader frame can take seconds to answer.
  const deadline = Date.now() + 90_000;
  let reloaded = false;
  const within = <T>(p: Promise<T>, ms: number, fallback: T) =>
    Promise.race([
      p.catch(() => fallback),
      new Promise<T>((r) => setTimeout(() => r(fallback), ms)),
    ]);
  for (;;) {
    // Pending ones too: the first `count` in the page must be these, each with its status.
    const wrappers = (await page.$$('[data-veil^="message"]')).slice(0, count);
    let shown = 0;
    for (const wrapper of wrappers) {
      if ((await wrapper.evaluate((w) => w.getAttribute('data-veil'))) !== 'message') continue;
      const iframe = await wrapper.$('iframe');
      const frame = iframe ? await within(iframe.contentFrame(), 5_000, null) : null;
      if (frame && (await within(frame.$(hook('plaintext')).then(Boolean), 5_000, false))) shown++;
    }
    if (wrappers.length === count && shown === count) return;
    // A frame puppeteer cannot reach (no execution context after its swap into the extension's
    // process), or one still without its text after 40 s on a loaded machine: loaded again
    // once, as a page re-render would (the reader asks for its text again). What it showed is
    // logged: a reader stuck under load is a risk the closing note of 2026-12-06 records.
    if (!reloaded && Date.now() > deadline - 50_000) {
      reloaded = true;
      for (const wrapper of wrappers) {
        const frame = await within((await wrapper.$('iframe'))!.contentFrame(), 5_000, null);
        const showing = await within(
          frame!.evaluate(() =>
            document.querySelector('[data-veil="plaintext"]')
              ? 'text'
              : document.body.innerText.slice(0, 120),
          ),
          5_000,
          null,
        );
        if (showing === 'text') continue;
        console.log(`[e2e] loading again a reader (${showing ?? 'unreachable'})`);
        await wrapper.$eval(
          'iframe',
          (f) => void ((f as HTMLIFrameElement).src = (f as HTMLIFrameElement).src),
        );
      }
    }
    if (Date.now() > deadline) {
      const inside: string[] = [];
      for (const wrapper of wrappers) {
        const frame = await within((await wrapper.$('iframe'))!.contentFrame(), 5_000, null);
        inside.push(
          (await within(
            frame!.evaluate(() => document.body.innerHTML.slice(0, 300)),
            5_000,
            'no context',
          )) ?? 'none',
        );
      }
      console.log('[e2e] the readers show:', inside);
      const states = await page.evaluate(() =>
        [...document.querySelectorAll('[data-veil^="message"]')].map(
          (w) =>
            `${w.getAttribute('data-veil')} ${w.getAttribute('data-veil-status')} frames ${w.querySelectorAll('iframe').length}`,
        ),
      );
      throw new Error(
        `${shown} of ${count} readers show text; wrappers: ${JSON.stringify(states)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Everything a frame shows, as text. */
const textOf = (frame: Frame) => frame.evaluate(() => document.body.innerText);

if (!chromiumPath) console.warn('[e2e] skipping frame attacks: no Chromium found');

describe.skipIf(!chromiumPath)('a hostile page against Veil’s frames (Chromium)', () => {
  const extensionDir = inject('chromeExtensionDir');
  let directory: DirectoryServer;
  let chat: LocalChat;
  const people: Person[] = [];
  let alice: Person;
  let bob: Person;

  async function onboard(handle: string): Promise<Person> {
    const person = await onboardInChromium(handle, {
      extensionDir,
      directoryUrl: directory.url,
      site: chat.host,
    });
    people.push(person);
    return person;
  }

  async function openChat(person: Person, setup?: () => void): Promise<Page> {
    const page = await person.session.browser.newPage();
    await page.setViewport({ width: 1000, height: 900 });
    // The tab the user looks at: a hidden one renders nothing, so its readers (which show text
    // only once they know what the page shows of them) would wait.
    await page.bringToFront();
    if (setup) await page.evaluateOnNewDocument(setup);
    await page.goto(`${chat.url}/?user=${person.handle}`);
    await page.waitForSelector(hook('toggle'));
    return page;
  }

  /** Alice writes each text to Bob through her composer frame. */
  async function aliceSends(texts: string[]): Promise<void> {
    const page = await openChat(alice);
    try {
      const composer = await openComposerTo(page, 'bob');
      for (const text of texts) {
        await composer.type(hook('compose-input'), text);
        await clickSend(composer);
        // Sent means every chunk is in the page (a first message, post-quantum, may be two:
        // Alice repeats the pre-key header with its KEM ciphertext until Bob answers).
        await composer.waitForSelector(`${hook('notice')}[data-veil-kind="success"]`, {
          timeout: 60_000,
        });
        await composer.$eval(hook('notice'), (el) => el.remove());
      }
    } finally {
      await page.close();
    }
  }

  beforeAll(async () => {
    directory = await startDirectory();
    chat = await startLocalChat();
    alice = await onboard('alice');
    bob = await onboard('bob');
    await aliceSends([
      'yes',
      'no',
      // 64 bytes: two reader lines, and still one chunk while every message of Alice's carries
      // the post-quantum pre-key header (Bob has not answered).
      'a longer message, from a bigger padding bucket than the 2 before',
    ]);
    // One line each: what these tests look at is frames, not chunking.
    expect(chat.messages.map((m) => m.text.startsWith('VeiLA'))).toEqual([true, true, true]);
  });

  afterAll(async () => {
    for (const p of people) await p.session.close();
    await chat?.close();
    await directory?.stop();
  });

  it(
    'copies of Veil’s readers the page made (same address; their tokens never in it) show a warning, never the text or the phrase',
    // Under load puppeteer sometimes holds a copy (same address as Veil's frame) without an
    // execution context, and loading it again does not bring it (cause not found: closing
    // note): one more try with a fresh page. A broken frame check fails both.
    { retry: 1 },
    timed('frame attacks: reader copies', async () => {
      const page = await openChat(bob, copyVeilFrames);
      try {
        // Veil's own readers: the text (looked for again while a frame is being swapped in,
        // which can leave a handle without a context), and the phrase in their head.
        await firstReadersShowText(page, 3);
        const own = await Promise.all(
          (await page.$$(`${hook('message')} iframe`)).map((h) => h.contentFrame()),
        );
        expect(own).toHaveLength(3);
        for (const frame of own)
          expect(await frame!.$eval(hook('security-phrase'), (el) => el.textContent)).toBe(
            'bob likes blue herons',
          );
        // The page's copies, made the moment Veil's frames appeared (before they loaded).
        const copies = await copiesShowing(page, 'reader', hook('not-placed'), 3);
        expect(copies).toHaveLength(3);
        for (const copy of copies) {
          const shown = await textOf(copy);
          expect(shown).not.toMatch(/yes|no\b|longer message|herons|alice/);
          expect(await copy.$(hook('plaintext'))).toBeNull();
          expect(await copy.$(hook('security-phrase'))).toBeNull();
        }
      } finally {
        await page.close();
      }
    }),
  );

  it(
    'the composer page the page embeds itself, with Veil’s token or none, shows no phrase, no contacts, and cannot send',
    // Under load puppeteer sometimes holds a copy (same address as Veil's frame) without an
    // execution context, and loading it again does not bring it (cause not found: closing
    // note): one more try with a fresh page. A broken frame check fails both.
    { retry: 1 },
    timed('frame attacks: composer copies', async () => {
      const page = await openChat(bob, copyVeilFrames);
      try {
        await page.click(hook('toggle'));
        const composer = await frameOf(page, `iframe${hook('composer')}`);
        await composer.waitForSelector(hook('security-phrase'));
        expect(await composer.$eval(hook('security-phrase'), (el) => el.textContent)).toBe(
          'bob likes blue herons',
        );
        // And one without any token.
        await page.evaluate(() => {
          const src = document.querySelector<HTMLIFrameElement>('[data-veil="composer"]')!.src;
          const bare = document.createElement('iframe');
          bare.src = src.split('#')[0]!;
          (window as unknown as { copies: HTMLIFrameElement[] }).copies.push(bare);
          document.querySelector('#copies')!.append(bare);
        });
        const copies = await copiesShowing(page, 'composer', hook('not-placed'), 2);
        expect(copies).toHaveLength(2);
        for (const copy of copies) {
          expect(await textOf(copy)).not.toMatch(/herons|alice|bob/);
          expect(await copy.$(hook('compose-send'))).toBeNull();
          expect(await copy.$(hook('recipients'))).toBeNull();
        }
        const before = chat.messages.length;
        // Veil's own composer still sends.
        await composer.click(`${hook('recipients')} input[value="alice"]`);
        await composer.waitForSelector(`${hook('recipients')} input[value="alice"]:checked`);
        await composer.type(hook('compose-input'), 'still mine');
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
    'a reader’s height at any width the page sets says only its status and padding bucket',
    timed('frame attacks: width probe', async () => {
      const page = await openChat(bob);
      try {
        // Alice's three messages come first (bob's own from the test before follows them).
        await firstReadersShowText(page, 3);
        // What a page can do: set the width of the frame (and of its wrapper), let it settle,
        // and read the height back; for each message, widths 20 to 600 px.
        const probe = (index: number) =>
          page.evaluate(async (index: number) => {
            const wrapper = document.querySelectorAll<HTMLElement>('[data-veil="message"]')[index]!;
            const frame = wrapper.querySelector('iframe')!;
            const heights: number[] = [];
            for (let w = 20; w <= 600; w += 20) {
              wrapper.style.width = `${w}px`;
              frame.style.width = `${w}px`;
              await new Promise((r) => setTimeout(r, 150));
              heights.push(
                frame.getBoundingClientRect().height,
                wrapper.getBoundingClientRect().height,
              );
            }
            return heights;
          }, index);
        const [yes, no, longer] = [await probe(0), await probe(1), await probe(2)];
        expect(yes).toEqual(no);
        expect(new Set(yes).size).toBe(1);
        // The probe does see what the page may know: a bigger bucket is a taller frame.
        expect(longer[0]).toBeGreaterThan(yes[0]!);
      } finally {
        await page.close();
      }
    }),
  );
});
