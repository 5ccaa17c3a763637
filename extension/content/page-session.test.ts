// The page session on a (fake) page: a plain page costs one text search; a page change is looked
// at message by message, plain messages by a text search only; a chat opened at its newest
// message sends the blocks on screen first, unless that would jump too far ahead of older ones.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PageBlockResult } from '../messaging/messages';
import { armor } from '../protocol/armor';
import {
  asDom,
  FakeDocument,
  h,
  type FakeElement,
  FakeText,
} from '../../site-adapters/fake-dom.test-helper';
import { generic } from '../../site-adapters/generic';
import type { SiteAdapter } from '../../site-adapters/types';
import { MAX_AHEAD_RUNS } from './decrypt-order';
import { blockDigest } from '../protocol/block-digest';
import { mayAddArmor, PageSession } from './page-session';

const placed = vi.hoisted(() => [] as string[]);
/** The wrapper each placed block got, by its text: what revealBlock scrolls to and marks. */
const wrappers = vi.hoisted(() => new Map<string, { scrolled: number; marked: boolean }>());
vi.mock('./reader-frames', () => ({
  // Frames need a real page; here only which blocks were placed matters.
  ReaderFrames: class {
    prepare(bodies: { textContent: string }[]) {
      return { bodies, drop() {} };
    }
    place(pending: { bodies: { textContent: string }[] }) {
      const text = pending.bodies.map((b) => b.textContent).join('\n');
      placed.push(text);
      const seen = { scrolled: 0, marked: false };
      wrappers.set(text, seen);
      return {
        isConnected: true,
        scrollIntoView: () => seen.scrolled++,
        setAttribute: (name: string) => (seen.marked ||= name === 'data-veil-revealed'),
        removeAttribute: () => undefined,
        style: { setProperty: () => undefined, removeProperty: () => undefined },
      };
    }
    settled() {
      return Promise.resolve();
    }
    mountVisible() {}
    takeOnScreen() {
      return [];
    }
    loadingOnScreen() {
      return 0;
    }
    clear() {}
  },
}));

class FakeObserver {
  static current: FakeObserver | undefined;
  constructor(readonly callback: (records: unknown[]) => void) {
    FakeObserver.current = this;
  }
  observe() {}
  disconnect() {}
}

let seed = 1;
const randomBytes = (n: number) =>
  Uint8Array.from({ length: n }, () => (seed = (seed * 48271) % 2147483647) & 0xff);
/** A distinct single-chunk armored block per i. */
function armored(i: number): string {
  const envelope = new Uint8Array(40).fill(i & 0xff);
  envelope[0] = i >> 8;
  return armor(envelope, { randomBytes })[0]!;
}

interface Page {
  doc: FakeDocument;
  log: FakeElement;
  session: PageSession;
  batches: string[][];
  /** The position each block was sent with. */
  positions: Map<string, number>;
  adapter: {
    [K in 'messages' | 'messageOf' | 'messageBody' | 'messageAuthor']: ReturnType<typeof vi.fn>;
  };
  add(text: string, author?: string): FakeElement;
  fire(records: object[]): void;
}

/**
 * A chat page: `texts` as messages 50 px apart, the one at `firstOnScreen` at the top; the
 * background answers after `answerMs` (0: at once, as from the plaintext cache).
 */
function page(
  texts: string[],
  { firstOnScreen = 0, authors = (_i: number): string => 'alice', answerMs = 1 } = {},
) {
  const doc = new FakeDocument();
  const log = h(doc, 'ul', { 'data-veil-messages': '' });
  doc.body.append(log);
  const place = (li: FakeElement, i: number) => {
    const top = (i - firstOnScreen) * 50;
    for (const el of [li, ...li.children])
      el.box = { top, bottom: top + 40, left: 0, right: 500, width: 500, height: 40 };
  };
  const add = (text: string, author = 'alice') => {
    const li = h(
      doc,
      'li',
      { 'data-veil-message': '' },
      h(doc, 'b', { 'data-veil-author': '' }, author),
      h(doc, 'span', { 'data-veil-body': '' }, text),
    );
    place(li, log.children.length);
    log.append(li);
    return li;
  };
  texts.forEach((t, i) => add(t, authors(i)));
  log.box = { top: -10_000, bottom: 10_000, left: 0, right: 500, width: 500, height: 20_000 };
  const batches: string[][] = [];
  const positions = new Map<string, number>();
  const adapter = {
    ...generic,
    messages: vi.fn(generic.messages),
    messageOf: vi.fn(generic.messageOf),
    messageBody: vi.fn(generic.messageBody),
    messageAuthor: vi.fn(generic.messageAuthor),
  };
  const session = new PageSession(
    adapter as SiteAdapter,
    asDom<Document>(doc),
    () => new URL('https://chat.example/room'),
    {
      decrypt: async (_context, blocks) => {
        batches.push(blocks.map((b) => b.armored));
        for (const b of blocks) positions.set(b.armored, b.pos);
        if (answerMs > 0) await new Promise((r) => setTimeout(r, answerMs));
        return blocks.map((): PageBlockResult => ({
          token: 't',
          key: 'k',
          lines: 1,
          status: 'unverified',
        }));
      },
      registerComposer: async () => ({ token: 'composer-token', key: 'composer-key' }),
    },
  );
  const fire = (records: object[]) => FakeObserver.current!.callback(records);
  return { doc, log, session, batches, positions, adapter, add, fire } satisfies Page;
}

const added = (target: FakeElement, ...nodes: FakeElement[]) => ({
  type: 'childList',
  target,
  addedNodes: nodes,
  removedNodes: [],
});

const indexOf = (list: string[]) => (a: string) => list.indexOf(a);

beforeEach(() => {
  placed.length = 0;
  wrappers.clear();
  vi.stubGlobal('MutationObserver', FakeObserver);
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe('PageSession', () => {
  it('reveals the block an archived message names: shown now, or once the page shows it', async () => {
    const p = page([armored(1), armored(2), armored(3)]);
    // Asked before the page showed anything (a tab just opened): it waits for the block.
    const early = p.session.reveal(blockDigest(armored(3))!);
    p.session.start();
    await vi.waitFor(() => expect(placed).toHaveLength(3));
    expect(await early).toBe(true);
    expect(wrappers.get(armored(3))).toEqual({ scrolled: 1, marked: true });
    // Already shown: at once, and only that one.
    expect(await p.session.reveal(blockDigest(armored(2))!)).toBe(true);
    expect(wrappers.get(armored(2))).toEqual({ scrolled: 1, marked: true });
    expect(wrappers.get(armored(1))).toEqual({ scrolled: 0, marked: false });
    // A digest of no block here waits, and gives up when the page goes; nothing is marked.
    const missing = p.session.reveal('0'.repeat(64));
    p.session.stop();
    expect(await missing).toBe(false);
    expect(wrappers.get(armored(1))).toEqual({ scrolled: 0, marked: false });
  });

  it('gives history the page loads above the known messages lower positions (not repeats)', async () => {
    const p = page([armored(10), armored(11)]);
    p.session.start();
    await vi.waitFor(() => expect(placed).toHaveLength(2));
    // The page loads older history above (scrolling up), then a new message below.
    const older = h(
      p.doc,
      'li',
      { 'data-veil-message': '' },
      h(p.doc, 'b', { 'data-veil-author': '' }, 'alice'),
      h(p.doc, 'span', { 'data-veil-body': '' }, armored(9)),
    );
    p.log.childNodes.unshift(older);
    older.parentElement = p.log;
    const newer = p.add(armored(12));
    p.fire([added(p.log, older, newer)]);
    await vi.waitFor(() => expect(placed).toHaveLength(4));
    const at = (i: number) => p.positions.get(armored(i))!;
    expect(at(9)).toBeLessThan(at(10));
    expect(at(10)).toBeLessThan(at(11));
    expect(at(11)).toBeLessThan(at(12));
    p.session.stop();
  });

  it('leaves a plain page alone: one text search, no message read, also as it grows', async () => {
    const p = page(Array.from({ length: 300 }, (_, i) => `plain message ${i}`));
    p.session.start();
    expect(p.adapter.messages).not.toHaveBeenCalled();
    expect(p.adapter.messageBody).not.toHaveBeenCalled();
    // Authors (the composer's hints) are read when it opens, not on every scan.
    expect(p.adapter.messageAuthor).not.toHaveBeenCalled();

    const more = [p.add('one more'), p.add('and another')];
    p.fire([added(p.log, ...more)]);
    await new Promise((r) => setTimeout(r, 60));
    expect(p.adapter.messages).not.toHaveBeenCalled();
    expect(p.adapter.messageBody).not.toHaveBeenCalled();
    // Text that cannot make armor appear is not even placed in its message.
    expect(p.adapter.messageOf).not.toHaveBeenCalled();

    // An armored message arrives: only it is read and sent.
    const secret = armored(1);
    const li = p.add(`look: ${secret}`);
    p.fire([added(p.log, li)]);
    await vi.waitFor(() => expect(placed).toHaveLength(1));
    expect(p.batches).toEqual([[secret]]);
    expect(p.adapter.messageBody).toHaveBeenCalledTimes(1);
    expect(p.adapter.messages).not.toHaveBeenCalled();
    p.session.stop();
  });

  it('sends the blocks on screen first when the chat opens at its newest message', async () => {
    const texts = Array.from({ length: 300 }, (_, i) => armored(i));
    // Messages 284…299 fill the 800-px window.
    const p = page(texts, { firstOnScreen: 284 });
    p.session.start();
    await vi.waitFor(() => expect(placed).toHaveLength(300));
    expect(p.batches[0]!.map(indexOf(texts))).toEqual(
      Array.from({ length: 20 }, (_, i) => 280 + i),
    );
    // Then the rest, nearest first, every block once.
    const batchOf = (i: number) => p.batches.findIndex((b) => b.includes(texts[i]!));
    expect(batchOf(279)).toBe(1);
    expect(batchOf(0)).toBe(p.batches.length - 1);
    const order = p.batches.flat().map(indexOf(texts));
    expect([...order].sort((a, b) => a - b)).toEqual(texts.map((_, i) => i));
    p.session.stop();
  });

  it('follows a jump of the page while it reads: what is on screen then goes next', async () => {
    const texts = Array.from({ length: 1000 }, (_, i) => armored(i));
    // Opened in the middle (a restored scroll position) …
    const p = page(texts, { firstOnScreen: 300, answerMs: 0 });
    p.session.start();
    // … and the page jumps to its newest message before most of the list was read.
    p.log.children.forEach((li, i) => {
      const top = (i - 984) * 50;
      for (const el of [li, ...li.children])
        el.box = { top, bottom: top + 40, left: 0, right: 500, width: 500, height: 40 };
    });
    p.doc.fire('scroll');
    await vi.waitFor(() => expect(placed).toHaveLength(1000));
    const batchOf = (i: number) => p.batches.findIndex((b) => b.includes(texts[i]!));
    // The first batch was chosen before the jump; the messages now on screen come right after.
    expect(batchOf(310)).toBe(0);
    for (const i of [984, 990, 999]) expect(batchOf(i), `message ${i}`).toBeLessThanOrEqual(2);
    expect(p.doc.listeners).toHaveLength(0);
    p.session.stop();
  });

  it('stays near page order when the blocks on screen are too far ahead of older ones', async () => {
    const texts = Array.from({ length: 60 }, (_, i) => armored(i));
    // Alternating authors: every message may start a new ratchet chain.
    const p = page(texts, { firstOnScreen: 44, authors: (i) => (i % 2 ? 'bob' : 'alice') });
    p.session.start();
    await vi.waitFor(() => expect(placed).toHaveLength(60));
    // No block jumps over more than MAX_AHEAD_RUNS older ones.
    expect(Math.max(...p.batches[0]!.map(indexOf(texts)))).toBe(MAX_AHEAD_RUNS);
    p.session.stop();
  });

  it('reads a message again when its text changes', async () => {
    const p = page(['hello', armored(7)]);
    p.session.start();
    await vi.waitFor(() => expect(placed).toHaveLength(1));
    const body = p.log.children[0]!.children[1]!;
    const text = body.childNodes[0] as FakeText;
    text.data = `edited: ${armored(8)}`;
    p.fire([{ type: 'characterData', target: text, addedNodes: [], removedNodes: [] }]);
    await vi.waitFor(() => expect(placed).toHaveLength(2));
    expect(p.batches).toEqual([[armored(7)], [armored(8)]]);
    p.session.stop();
  });

  it('finds armor completed across text nodes on a page that had none', async () => {
    const secret = armored(3);
    const p = page(['hello']);
    p.session.start();
    // The page streams a message: the marker's start first, the rest in a second text node.
    const li = p.add(`look: ${secret.slice(0, secret.indexOf('VeiL') + 2)}`);
    p.fire([added(p.log, li)]);
    await new Promise((r) => setTimeout(r, 60));
    expect(p.batches).toEqual([]);
    const body = li.children[1]!;
    const rest = new FakeText(p.doc, secret.slice(secret.indexOf('VeiL') + 2));
    body.append(rest);
    p.fire([{ type: 'childList', target: body, addedNodes: [rest], removedNodes: [] }]);
    await vi.waitFor(() => expect(placed).toHaveLength(1));
    expect(p.batches).toEqual([[secret]]);
    p.session.stop();
  });

  it('once the list holds armor, reads a message again for any change in it', async () => {
    const secret = armored(5);
    const p = page([secret]);
    p.session.start();
    await vi.waitFor(() => expect(placed).toHaveLength(1));
    p.adapter.messageBody.mockClear();
    // A change without the marker in it, in an armored message: still read again.
    const body = p.log.children[0]!.children[1]!;
    const tail = new FakeText(p.doc, ' (edited)');
    body.append(tail);
    p.fire([{ type: 'childList', target: body, addedNodes: [tail], removedNodes: [] }]);
    await vi.waitFor(() => expect(p.adapter.messageBody).toHaveBeenCalled());
    p.session.stop();
  });
});

describe('mayAddArmor', () => {
  const text = (data: string) => ({ textContent: data }) as unknown as Node;
  it('is true for text holding or completing the marker, false for other text', () => {
    for (const t of ['a VeiL b', 'end V', 'end Ve', 'end Vei', 'L start', 'iL x', 'eiL x', 'ei'])
      expect(mayAddArmor(text(t)), t).toBe(true);
    for (const t of ['', 'hello', 'Veil', 'vEIl', 'eVe x', 'x LL'])
      expect(mayAddArmor(text(t)), t).toBe(false);
  });
});
