// The Lounge adapter against the real app: ngircd + The Lounge on 127.0.0.1, two Chromium pages
// (no extension: the adapter bundle runs in the page) joined as different nicks. Checks what the
// adapter reads and sends, and measures what IRC does to long armored lines. With
// VEIL_SAVE_FIXTURES=1 it also saves site-adapters/fixtures/thelounge-channel.html.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { armor, findArmor, Reassembler } from '../../extension/protocol/armor';
import { theLounge } from '../../site-adapters/thelounge';
import { adapterBundle, injectAdapters, launchPlainChromium } from './adapter-bundle';
import { chromiumPath } from './harness';
import {
  ircStackAvailable,
  joinTheLounge,
  startIrcStack,
  waitForUsers,
  type IrcStack,
} from './irc-servers';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURE = path.join(repoRoot, 'site-adapters/fixtures/thelounge-channel.html');

interface Seen {
  id: string;
  author: string | null;
  body: string | null;
  own: boolean | null;
  links: number;
}

/** What the adapter reads in `page`: every message of the open conversation. */
function readMessages(page: Page): Promise<Seen[]> {
  return page.evaluate(() => {
    const adapter = veilAdapters.adapterFor(location.href, document)!;
    const list = adapter.messageList(document);
    if (!list) return [];
    return adapter.messages(list).map((m) => {
      const body = adapter.messageBody(m);
      return {
        id: m.id,
        author: adapter.messageAuthor(m),
        body: body?.textContent ?? null,
        own: adapter.messageIsOwn?.(m) ?? null,
        links: body?.querySelectorAll('a').length ?? 0,
      };
    });
  });
}

function submit(page: Page, text: string): Promise<void> {
  return page.evaluate(
    (t: string) => veilAdapters.adapterFor(location.href, document)!.submit(document, t),
    text,
  );
}

/** Waits until `page` shows at least `count` messages by `author` holding `needle`. */
async function waitForMessages(
  page: Page,
  author: string,
  needle: string,
  count = 1,
  timeout = 30_000,
): Promise<void> {
  await page.waitForFunction(
    (who: string, text: string, n: number) => {
      const adapter = veilAdapters.adapterFor(location.href, document)!;
      const list = adapter.messageList(document);
      if (!list) return false;
      const hits = adapter
        .messages(list)
        .filter(
          (m) =>
            adapter.messageAuthor(m) === who &&
            (adapter.messageBody(m)?.textContent ?? '').includes(text),
        );
      return hits.length >= n;
    },
    { timeout, polling: 50 },
    author,
    needle,
    count,
  );
}

/** Deterministic bytes (a counter through a small LCG): armor ids and fake envelopes. */
function testBytes(seed: number): (n: number) => Uint8Array {
  let state = seed >>> 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      out[i] = state >>> 24;
    }
    return out;
  };
}

/** findArmor + Reassembler over the bodies, in display order, scoped by author. */
function reassemble(seen: Seen[]): Uint8Array[] {
  const r = new Reassembler();
  const done: Uint8Array[] = [];
  for (const m of seen) {
    for (const chunk of findArmor(m.body ?? '')) {
      const res = r.add(chunk, m.author ?? '');
      if (res.done) done.push(res.envelope);
    }
  }
  return done;
}

const utf8Length = (s: string) => Buffer.byteLength(s, 'utf8');

const canRun = Boolean(chromiumPath) && ircStackAvailable;
if (!canRun)
  console.warn('[e2e] skipping The Lounge tests: needs Chromium, ngircd and tools/thelounge');

describe.skipIf(!canRun)('The Lounge adapter on a real The Lounge + ngircd', () => {
  let stack: IrcStack;
  let browser: Browser;
  let contexts: BrowserContext[] = [];
  let alice: Page;
  let bob: Page;

  beforeAll(async () => {
    const started = Date.now();
    const [irc, chromium] = await Promise.all([
      startIrcStack(),
      launchPlainChromium(),
      adapterBundle(),
    ]);
    stack = irc;
    browser = chromium;
    console.log(`[e2e] ngircd + The Lounge + Chromium up in ${Date.now() - started} ms`);
    // One browser context per user: The Lounge keeps per-browser state in localStorage.
    contexts = [await browser.createBrowserContext(), await browser.createBrowserContext()];
    alice = await contexts[0]!.newPage();
    bob = await contexts[1]!.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('joins two nicks that see each other in the user list', async () => {
    const started = Date.now();
    await Promise.all([
      joinTheLounge(alice, stack.loungeUrl, 'alice', { channel: stack.channel }),
      joinTheLounge(bob, stack.loungeUrl, 'bob', { channel: stack.channel }),
    ]);
    await waitForUsers(alice, ['alice', 'bob'], { channel: stack.channel });
    await waitForUsers(bob, ['alice', 'bob'], { channel: stack.channel });
    await Promise.all([injectAdapters(alice), injectAdapters(bob)]);
    console.log(`[e2e] alice and bob joined ${stack.channel} in ${Date.now() - started} ms`);

    for (const [page, nick] of [
      [alice, 'alice'],
      [bob, 'bob'],
    ] as const) {
      const info = await page.evaluate(() => {
        const adapter = veilAdapters.adapterFor(location.href, document)!;
        return {
          id: adapter.id,
          conversation: adapter.conversationId(new URL(location.href), document),
          self: adapter.selfName?.(document) ?? null,
          compose: adapter.composeBox(document)?.id ?? null,
          anchor: adapter.toggleAnchor(document)?.id ?? null,
          url: location.href,
        };
      });
      expect(info).toMatchObject({
        id: 'thelounge',
        conversation: 'irc:veilnet/#veil',
        self: nick,
        compose: 'input',
        anchor: 'submit-tooltip',
      });
    }
  });

  it('sends with adapter.submit; the other side reads body and author', async () => {
    const text = 'hello from alice: see https://example.com/veil and example.org in #veil, bob';
    await submit(alice, text);
    await waitForMessages(bob, 'alice', 'hello from alice');
    const onBob = (await readMessages(bob)).filter((m) => m.author === 'alice');
    expect(onBob.at(-1)).toMatchObject({ body: text, own: false });
    // Linkified (URL, bare domain, channel) but textContent unchanged.
    expect(onBob.at(-1)!.links).toBeGreaterThanOrEqual(2);
    const onAlice = await readMessages(alice);
    expect(onAlice.at(-1)).toMatchObject({ author: 'alice', body: text, own: true });
    // Only real messages: alice's and bob's joins are not among them.
    expect(onAlice.every((m) => m.author === 'alice')).toBe(true);
  });

  it('escapes a leading slash so the line is sent, not run as a command', async () => {
    const text = '/veil is text, not a command';
    await submit(alice, text);
    await waitForMessages(bob, 'alice', 'is text, not a command');
    expect((await readMessages(bob)).at(-1)).toMatchObject({ author: 'alice', body: text });
  });

  it('IRC cuts a long armored line; findArmor + Reassembler recover it', async () => {
    // ~1,200 characters: 12 armor parts of 100 characters separated by spaces.
    const envelope = testBytes(1)(740);
    const parts = armor(envelope, { maxChunkLength: 100, randomBytes: testBytes(2) });
    const line = parts.join(' ');
    expect(line.length).toBeGreaterThan(1_100);
    expect(line.length).toBeLessThan(1_300);

    const before = (await readMessages(bob)).length;
    const started = Date.now();
    await submit(alice, line);
    await bob.waitForFunction(
      (n: number, total: number) => {
        const adapter = veilAdapters.adapterFor(location.href, document)!;
        const got = adapter.messages(adapter.messageList(document)!).slice(n);
        const text = got.map((m) => adapter.messageBody(m)?.textContent ?? '').join(' ');
        return (text.match(/VeiLB/g) ?? []).length >= total;
      },
      { timeout: 30_000, polling: 50 },
      before,
      parts.length,
    );
    const elapsed = Date.now() - started;
    const received = (await readMessages(bob)).slice(before);
    const lengths = received.map((m) => utf8Length(m.body ?? ''));
    console.log(
      `[e2e] ${line.length}-char line (${parts.length} words) → bob sees ${received.length} messages ` +
        `of ${lengths.join(', ')} bytes in ${elapsed} ms`,
    );
    // Cut at spaces into ≤ 350-byte messages, the space at each cut dropped, none added.
    expect(received.length).toBeGreaterThan(1);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(350);
    for (const m of received) expect(m.body).toBe(m.body!.trim());
    expect(received.map((m) => m.body).join(' ')).toBe(line);
    expect(reassemble(received)).toEqual([envelope]);

    // The sender sees the line uncut, in one element.
    const own = (await readMessages(alice)).at(-1)!;
    expect(own).toMatchObject({ body: line, own: true });
    expect(reassemble([own])).toEqual([envelope]);
  });

  it('cuts a word longer than 350 bytes inside the word (why maxMessageLength is 350)', async () => {
    const word = 'VeiL' + 'x'.repeat(696);
    const before = (await readMessages(bob)).length;
    await submit(alice, word);
    await bob.waitForFunction(
      (n: number, total: number) => {
        const adapter = veilAdapters.adapterFor(location.href, document)!;
        const got = adapter.messages(adapter.messageList(document)!).slice(n);
        return (
          got.reduce((sum, m) => sum + (adapter.messageBody(m)?.textContent?.length ?? 0), 0) >=
          total
        );
      },
      { timeout: 30_000, polling: 50 },
      before,
      word.length,
    );
    const received = (await readMessages(bob)).slice(before).map((m) => m.body ?? '');
    console.log(
      `[e2e] one ${word.length}-char word → ${received.map((b) => b.length).join(' + ')}`,
    );
    expect(received).toEqual([word.slice(0, 350), word.slice(350)]);
    expect(theLounge.maxMessageLength).toBe(350);
  });

  it('reassembles chunks sent one per line with other lines in between', async () => {
    const envelope = testBytes(3)(500);
    const chunks = armor(envelope, {
      maxChunkLength: theLounge.maxMessageLength,
      randomBytes: testBytes(4),
    });
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    const before = (await readMessages(bob)).length;
    const started = Date.now();
    // Each line is seen on the other side before the next is sent, so both pages show bob's
    // lines between alice's chunks (a throttled sender's lines can otherwise arrive together).
    for (const [i, chunk] of chunks.entries()) {
      await submit(alice, chunk);
      await waitForMessages(bob, 'alice', chunk.slice(0, 17));
      if (i === chunks.length - 1) break;
      const interjection = `bob interjects ${i + 1}: example.net looks fine`;
      await submit(bob, interjection);
      await waitForMessages(alice, 'bob', interjection);
    }
    console.log(
      `[e2e] ${chunks.length} chunks + ${chunks.length - 1} interjections delivered in ${Date.now() - started} ms`,
    );

    for (const page of [bob, alice]) {
      const seen = (await readMessages(page)).slice(page === bob ? before : 0);
      const authors = seen.map((m) => m.author);
      const firstChunk = seen.findIndex((m) => m.body?.startsWith('VeiLB') && m.body === chunks[0]);
      const lastChunk = seen.findIndex((m) => m.body === chunks.at(-1));
      expect(firstChunk).toBeGreaterThanOrEqual(0);
      expect(authors.slice(firstChunk, lastChunk)).toContain('bob');
      expect(reassemble(seen).at(-1)).toEqual(envelope);
    }
    const conversations = await Promise.all(
      [alice, bob].map((p) =>
        p.evaluate(() =>
          veilAdapters
            .adapterFor(location.href, document)!
            .conversationId(new URL(location.href), document),
        ),
      ),
    );
    expect(conversations).toEqual(['irc:veilnet/#veil', 'irc:veilnet/#veil']);

    if (process.env.VEIL_SAVE_FIXTURES === '1') await saveFixture(bob);
  });

  it('names a private chat the same on both sides and follows channel switches', async () => {
    // A real user's command, typed and sent with Enter.
    await alice.type('#input', '/query bob');
    await alice.keyboard.press('Enter');
    await alice.waitForSelector('#chat .chat-view[data-type="query"][aria-label="bob"]');
    await submit(alice, 'just between us');
    const bobsQuery = '#sidebar .channel-list-item[data-type="query"][data-name="alice"]';
    await (await bob.waitForSelector(bobsQuery))!.click();
    await bob.waitForSelector('#chat .chat-view[data-type="query"][aria-label="alice"]');
    await waitForMessages(bob, 'alice', 'just between us');

    const conversation = (page: Page) =>
      page.evaluate(() =>
        veilAdapters
          .adapterFor(location.href, document)!
          .conversationId(new URL(location.href), document),
      );
    expect(await conversation(alice)).toBe('irc:veilnet/query:alice,bob');
    expect(await conversation(bob)).toBe('irc:veilnet/query:alice,bob');
    // The list now holds the private chat only.
    expect((await readMessages(bob)).map((m) => m.body)).toEqual(['just between us']);

    await bob.click('#sidebar .channel-list-item[data-type="channel"][data-name="#veil"]');
    await bob.waitForSelector('#chat .chat-view[data-type="channel"][aria-label="#veil"]');
    expect(await conversation(bob)).toBe('irc:veilnet/#veil');
  });
});

/** Saves the page as a fixture: the whole document without scripts (and script preloads). */
async function saveFixture(page: Page): Promise<void> {
  const html = (await page.content())
    .replace(/<script\b[^>]*>[\s\S]*?<\/script>/gi, '')
    .replace(/<link\b[^>]*rel="(?:modulepreload|preload)"[^>]*>/gi, '')
    .replace(
      /<textarea id="input"([^>]*)>[\s\S]*?<\/textarea>/,
      '<textarea id="input"$1></textarea>',
    );
  const note =
    '<!-- The Lounge 4.5.2: #veil on ngircd as bob sees it, saved by tests/e2e/thelounge-adapter.test.ts with VEIL_SAVE_FIXTURES=1; scripts removed. -->';
  fs.writeFileSync(
    FIXTURE,
    html.replace(/^<!DOCTYPE html>/i, (doctype) => `${doctype}\n${note}`),
  );
  console.log(`[e2e] saved ${path.relative(repoRoot, FIXTURE)} (${html.length} chars)`);
}
