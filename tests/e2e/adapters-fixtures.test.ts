// Every site adapter against its saved DOM fixtures (committed HTML, never live pages), in headless
// Chromium: no DOM library is a dependency, and the generic adapter's heuristics need layout. Each
// fixture is served at its original address, the adapter bundle is evaluated in the page, and what
// the adapter reads is compared with site-adapters/fixtures/index.ts.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, HTTPRequest, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findArmor, Reassembler } from '../../extension/protocol/armor';
import { adapterFixtures, type AdapterFixture } from '../../site-adapters/fixtures/index';
import type { ConversationInfo } from '../../site-adapters/types';
import { adapterBundle, injectAdapters, launchPlainChromium } from './adapter-bundle';
import { chromiumPath } from './harness';

const fixturesDir = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../site-adapters/fixtures',
);

interface Reading {
  adapter: string | null;
  conversationId: string | null;
  selfName: string | null;
  composeBox: boolean | null;
  toggleAnchor: boolean | null;
  messageList: boolean | null;
  messages: { author: string | null; body: string | null; own: boolean | null }[];
  info: ConversationInfo | null;
}

/** Serves `html` for navigations to `url` (any hash); every other request fails. */
async function serve(page: Page, url: string, html: string): Promise<void> {
  const target = new URL(url);
  target.hash = '';
  page.removeAllListeners('request');
  page.on('request', (request: HTTPRequest) => {
    const requested = new URL(request.url());
    requested.hash = '';
    if (request.isNavigationRequest() && requested.href === target.href) {
      void request.respond({ status: 200, contentType: 'text/html; charset=utf-8', body: html });
    } else {
      void request.respond({ status: 404, contentType: 'text/plain', body: '' });
    }
  });
  // Via about:blank: going to the current URL again would only be a fragment navigation.
  await page.goto('about:blank');
  await page.goto(url, { waitUntil: 'load' });
  await injectAdapters(page);
}

/** What the registry picks for the page and what that adapter reads. */
function read(page: Page, fixture: AdapterFixture): Promise<Reading> {
  return page.evaluate((f: AdapterFixture) => {
    const url = new URL(location.href);
    const adapter = veilAdapters.adapterFor(url, document);
    if (!adapter) {
      return {
        adapter: null,
        conversationId: null,
        selfName: null,
        composeBox: null,
        toggleAnchor: null,
        messageList: null,
        messages: [],
        info: null,
      };
    }
    const matches = (el: Element | null, selector: string | null) =>
      selector === null ? el === null : el !== null && el.matches(selector);
    const list = adapter.messageList(document);
    return {
      adapter: adapter.id,
      conversationId: adapter.conversationId(url, document),
      selfName: adapter.selfName?.(document) ?? null,
      composeBox: matches(adapter.composeBox(document), f.composeBox),
      toggleAnchor: matches(adapter.toggleAnchor(document), f.toggleAnchor),
      messageList: matches(list, f.messageList),
      messages: (list ? adapter.messages(list) : []).map((m) => ({
        author: adapter.messageAuthor(m),
        body: adapter.messageBody(m)?.textContent ?? null,
        own: adapter.messageIsOwn?.(m) ?? null,
      })),
      info: adapter.conversationInfo?.(url, document) ?? null,
    };
  }, fixture);
}

function countArmored(messages: Reading['messages']): number {
  const r = new Reassembler();
  let done = 0;
  for (const m of messages) {
    for (const chunk of findArmor(m.body ?? '')) if (r.add(chunk, m.author ?? '').done) done++;
  }
  return done;
}

const fixtureHtml = (file: string) => fs.readFileSync(path.join(fixturesDir, file), 'utf8');

if (!chromiumPath) console.warn('[e2e] skipping adapter fixture tests: no Chromium binary found');

describe.skipIf(!chromiumPath)('site adapters on saved pages', () => {
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    [browser] = await Promise.all([launchPlainChromium(), adapterBundle()]);
    page = await browser.newPage();
    await page.setRequestInterception(true);
  });

  afterAll(async () => {
    await browser?.close();
  });

  describe.each(adapterFixtures)('$file ($adapter)', (fixture) => {
    let reading: Reading;

    beforeAll(async () => {
      await serve(page, fixture.url, fixtureHtml(fixture.file));
      reading = await read(page, fixture);
    });

    it('is picked by the registry and finds the page parts', () => {
      expect(reading).toMatchObject({
        adapter: fixture.adapter,
        conversationId: fixture.conversationId,
        selfName: fixture.selfName,
        composeBox: true,
        toggleAnchor: true,
        messageList: true,
      });
      if (fixture.info !== undefined) expect(reading.info).toEqual(fixture.info);
    });

    it('reads every message with its author, body and own-flag', () => {
      expect(reading.messages.map((m) => m.author)).toEqual(fixture.authors);
      expect(reading.messages.map((m) => m.own)).toEqual(fixture.own);
      // Compared trimmed: hand-written pages, like real ones, indent text inside elements.
      const bodies = reading.messages.map((m) => m.body?.trim());
      for (const body of fixture.bodies) expect(bodies).toContain(body);
      // A body is the message text alone: no timestamp or author glued to armor.
      for (const body of bodies) expect(body ?? '').not.toMatch(/\d\d:\d\d\s*VeiL/);
    });

    it('yields the armored messages to findArmor + Reassembler', () => {
      expect(countArmored(reading.messages)).toBe(fixture.armoredMessages);
    });
  });

  describe('submit', () => {
    /** Records what the page would have sent, then clears the compose box like the site. */
    async function recordSends(how: 'submit' | 'click' | 'enter', selector: string): Promise<void> {
      await page.evaluate(
        (kind: string, sel: string) => {
          const sent: string[] = [];
          (window as unknown as { sent: string[] }).sent = sent;
          const box = () => document.querySelector<HTMLElement>(sel)!;
          const take = () => {
            const el = box();
            const area = el as HTMLTextAreaElement;
            sent.push(el.localName === 'textarea' ? area.value : (el.textContent ?? ''));
            if (el.localName === 'textarea') area.value = '';
            else el.textContent = '';
          };
          if (kind === 'enter') {
            box().addEventListener('keydown', (e) => {
              if (e.key === 'Enter') take();
            });
          } else {
            document.addEventListener('submit', (e) => {
              e.preventDefault();
              take();
            });
          }
        },
        how,
        selector,
      );
    }

    const sent = () => page.evaluate(() => (window as unknown as { sent: string[] }).sent);
    const submit = (text: string) =>
      page.evaluate(
        (t: string) => veilAdapters.adapterFor(location.href, document)!.submit(document, t),
        text,
      );
    const fixture = (file: string) => adapterFixtures.find((f) => f.file === file)!;

    it('The Lounge: value + input event + send button; a leading slash is escaped', async () => {
      const f = fixture('thelounge-channel.html');
      await serve(page, f.url, fixtureHtml(f.file));
      await recordSends('submit', '#input');
      await submit('VeiLA00 plain');
      // A draft the user left in the host's box is not sent, and is still there afterwards.
      await page.$eval('#input', (el) => ((el as HTMLTextAreaElement).value = 'my draft'));
      await submit('/not a command');
      expect(await sent()).toEqual(['VeiLA00 plain', '//not a command']);
      expect(await page.$eval('#input', (el) => (el as HTMLTextAreaElement).value)).toBe(
        'my draft',
      );
    });

    it('generic textarea in a form: clicks the submit button, not another button', async () => {
      const f = fixture('generic-opt-in.html');
      await serve(page, f.url, fixtureHtml(f.file));
      await recordSends('submit', 'form.compose > textarea');
      await page.evaluate(() => {
        document.querySelector('button.emoji')!.addEventListener('click', () => {
          (window as unknown as { sent: string[] }).sent.push('emoji!');
        });
      });
      await submit('VeiLA01 hello');
      expect(await sent()).toEqual(['VeiLA01 hello']);
    });

    it('generic contenteditable without form or button: types the text, presses Enter', async () => {
      const f = fixture('generic-heuristic.html');
      await serve(page, f.url, fixtureHtml(f.file));
      await recordSends('enter', '.editor');
      await submit('VeiLA02 typed');
      expect(await sent()).toEqual(['VeiLA02 typed']);
    });
  });

  it("generic compose box: focused over largest; never Veil's own or a hidden one", async () => {
    const f = adapterFixtures.find((x) => x.file === 'generic-heuristic.html')!;
    await serve(page, f.url, fixtureHtml(f.file));
    const picked = () =>
      page.evaluate(() => {
        const box = veilAdapters.genericAdapter.composeBox(document);
        return box ? box.className || box.localName : null;
      });
    await page.evaluate(() => {
      document.body.insertAdjacentHTML(
        'beforeend',
        '<div data-veil="composer"><textarea class="veil-own" style="width:900px;height:400px"></textarea></div>' +
          '<textarea class="helper" style="position:absolute;width:1px;height:1px"></textarea>',
      );
    });
    expect(await picked()).toBe('editor');
    await page.evaluate(() => {
      document.body.insertAdjacentHTML(
        'beforeend',
        '<textarea class="notes" style="position:absolute;top:0;width:500px;height:300px"></textarea>',
      );
    });
    expect(await picked()).toBe('notes');
    await page.focus('.editor');
    expect(await picked()).toBe('editor');
  });

  it('picks no adapter on a page without a compose box or opt-in', async () => {
    await serve(page, 'https://plain.example/', '<!doctype html><title>x</title><p>Just text</p>');
    const picked = await page.evaluate(
      () => veilAdapters.adapterFor(location.href, document)?.id ?? null,
    );
    expect(picked).toBeNull();
  });
});
