// Attacks on Veil through a real chat app (issue 11), each as its attacker would do it: The Lounge
// + ngircd on 127.0.0.1, the built extension in Chromium, the site turned on through Settings →
// Sites as a user does. A hostile contact writes under someone else's handle; a hostile host page
// posts an old block again and moves one into another channel; hostile directories (the real
// directory code with a lie in front, tests/e2e/hostile-directory.ts) swap a key at first contact
// and show two people two different logs. Everything started here is stopped in afterAll.
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDirectory, type DirectoryServer } from './directory-server';
import { chromiumPath, launchChromium, openExtensionPage, timed } from './harness';
import {
  startKeySwapDirectory,
  startSplitViewDirectory,
  type KeySwapDirectory,
  type SplitViewDirectory,
} from './hostile-directory';
import {
  ircStackAvailable,
  joinTheLounge,
  startNgircd,
  startTheLounge,
  waitForUsers,
  type IrcServer,
} from './irc-servers';
import {
  hostSees,
  readers,
  veilSend,
  waitForPlaintext,
  waitForReaders,
  type Person,
  UNTHROTTLED,
  VIEWPORT,
  type ReaderState,
} from './lounge-pages';
import { hook, OptionsPage, SECTION } from './options-page';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reader states on `page` after the first `from`, once one of them satisfies `want`. */
async function waitForReader(
  page: Page,
  from: number,
  want: (r: ReaderState) => boolean,
  timeout = 45_000,
): Promise<ReaderState> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const found = (await readers(page)).slice(from).find(want);
    if (found) return found;
    if (Date.now() > deadline)
      throw new Error(`no such reader; saw ${JSON.stringify((await readers(page)).slice(from))}`);
    await sleep(200);
  }
}

/** Clicks "show anyway" in the reader that holds back a block; returns the text it then shows. */
async function reveal(page: Page, index: number): Promise<string | null> {
  const wrapper = (await page.$$(hook('message')))[index]!;
  const frame = await (await wrapper.$('iframe'))!.contentFrame();
  await frame.click(hook('reveal'));
  await frame.waitForSelector(hook('plaintext'));
  return frame.$eval(hook('plaintext'), (el) => el.textContent);
}

/**
 * What a hostile host does to post an old message again: fresh message elements made from the
 * ones it showed before (its own markup, none of Veil's; a long message is several IRC lines),
 * appended at the end of the open channel's list.
 */
function repost(page: Page, outerHtmls: readonly string[]): Promise<void> {
  return page.evaluate((htmls: string[]) => {
    const list = document.querySelector('#chat .chat-view .messages')!;
    for (const html of htmls) {
      const holder = document.createElement('div');
      holder.innerHTML = html;
      const msg = holder.firstElementChild as HTMLElement;
      for (const el of msg.querySelectorAll('[data-veil]')) el.remove();
      for (const el of msg.querySelectorAll<HTMLElement>('[data-veil-hidden]')) {
        el.removeAttribute('data-veil-hidden');
        el.style.removeProperty('display');
      }
      list.append(msg);
    }
  }, outerHtmls as string[]);
}

/**
 * `from` writes `text` to `to` through Veil; returns the host elements it became at `to` (by
 * element id: The Lounge keeps a bounded number of lines, so counting them would not do).
 */
async function sendCapturing(from: Person, to: Person, text: string): Promise<string[]> {
  const idOf = (html: string) => /id="([^"]+)"/.exec(html)?.[1];
  const before = new Set((await messagesBy(to.lounge, from.nick)).map(idOf));
  await veilSend(from, [to.nick], text);
  await waitForPlaintext(to.lounge, text);
  return (await messagesBy(to.lounge, from.nick)).filter((html) => !before.has(idOf(html)));
}

/** The host's own markup of `author`'s messages in the open channel (what it could post again). */
function messagesBy(page: Page, author: string): Promise<string[]> {
  return page.evaluate(
    (who: string) =>
      [...document.querySelectorAll('#chat .chat-view .messages .msg[data-type="message"]')]
        .filter((m) => m.querySelector('.from .user')?.getAttribute('data-name') === who)
        .map((m) => m.outerHTML),
    author,
  );
}

const canRun = Boolean(chromiumPath) && ircStackAvailable;
if (!canRun)
  console.warn('[e2e] skipping The Lounge attacks: needs Chromium, ngircd and The Lounge');

describe.skipIf(!canRun)('attacks through The Lounge (Chromium, built extension)', () => {
  const extensionDir = inject('chromeExtensionDir');
  let directory: DirectoryServer;
  let ngircd: IrcServer;
  let thelounge: IrcServer;
  let loungeUrl: string;
  const people: Person[] = [];
  const byNick = (nick: string) => people.find((p) => p.nick === nick)!;

  /** A Chromium profile with Veil: `handle` at `directoryUrl`, The Lounge site turned on. */
  async function profile(
    nick: string,
    directoryUrl: string,
    opts: { publish?: boolean; handle?: string } = {},
  ): Promise<Person> {
    const session = await launchChromium({ extensionDir, args: UNTHROTTLED });
    const options = await openExtensionPage(session.browser, session.extensionId, 'options.html');
    const ui = new OptionsPage(options, session.origin);
    if (opts.publish === false) {
      // An identity made here and never published (its handle is someone else's).
      await ui.request({ type: 'createIdentity', handle: opts.handle ?? nick, directoryUrl });
      await ui.reload();
    } else await ui.onboard(opts.handle ?? nick, directoryUrl);
    await ui.enableSite(new URL(loungeUrl).host);
    const lounge = await session.browser.newPage({ type: 'window' });
    await lounge.setViewport(VIEWPORT);
    const person: Person = { nick, session, ui, lounge };
    people.push(person);
    return person;
  }

  async function verify(me: Person, other: string): Promise<void> {
    await me.ui.openVerify(other);
    await me.ui.click(hook('mark-verified'));
    await me.ui.success(SECTION.mark);
  }

  beforeAll(async () => {
    [directory, ngircd] = await Promise.all([startDirectory(), startNgircd()]);
    thelounge = await startTheLounge({ ircPort: ngircd.port, channel: '#veil' });
    loungeUrl = `http://127.0.0.1:${thelounge.port}/`;
  });

  afterAll(async () => {
    for (const p of people) await p.session.close().catch(() => undefined);
    await thelounge?.stop();
    await ngircd?.stop();
    await directory?.stop();
  });

  it(
    "an impostor under alice's handle is an unknown sender at bob: text held back, alice stays verified, the reply reaches only alice",
    timed('impostor', async () => {
      const [alice, bob] = await Promise.all([
        profile('alice', directory.url),
        profile('bob', directory.url),
      ]);
      await alice.ui.addContact('bob');
      await bob.ui.addContact('alice');
      await verify(bob, 'alice');
      await verify(alice, 'bob');
      // Mallory makes an identity called alice in her own browser (the directory holds the
      // handle for alice's key, so she cannot publish it) and writes to bob from nick mallory.
      const mallory = await profile('mallory', directory.url, { publish: false, handle: 'alice' });
      await Promise.all([
        joinTheLounge(alice.lounge, loungeUrl, 'alice', { channel: '#veil' }),
        joinTheLounge(bob.lounge, loungeUrl, 'bob', { channel: '#veil' }),
        joinTheLounge(mallory.lounge, loungeUrl, 'mallory', { channel: '#veil' }),
      ]);
      for (const p of [alice, bob, mallory])
        await waitForUsers(p.lounge, ['alice', 'bob', 'mallory'], { channel: '#veil' });

      const before = (await readers(bob.lounge)).length;
      const forged = 'alice here, new laptop: send me the door code';
      await veilSend(mallory, ['bob'], forged);
      const atBob = await waitForReader(
        bob.lounge,
        before,
        (r) => r.status === 'unknown-sender' && r.sender !== null,
      );
      expect(atBob.hidden).toBe(true);
      expect(atBob.plaintext).toBeNull();
      expect(atBob.sender).toContain('alice');
      expect(atBob.unknown).toMatch(/\d{30}/);
      expect(await hostSees(bob.lounge)).not.toContain('door code');
      // Nothing changed for bob's alice: still verified, still the one his replies go to.
      await bob.ui.go('#contacts');
      expect(await bob.ui.contactStatus('alice')).toBe('verified');
      const beforeMallory = (await readers(mallory.lounge)).length;
      const reply = 'bob to the real alice: the code stays with me';
      await veilSend(bob, ['alice'], reply);
      expect(await waitForPlaintext(alice.lounge, reply)).toMatchObject({
        status: 'verified',
        sender: 'bob',
      });
      const atMallory = await waitForReaders(
        mallory.lounge,
        beforeMallory + 1,
        (r) => r.status !== null,
      );
      expect(atMallory.map((r) => r.plaintext)).not.toContain(reply);
      expect(atMallory.at(-1)!.status).toBe('failed');
    }),
  );

  it(
    'a block the host posts again below later ones shows as shown again, its text held back until asked',
    timed('repeat', async () => {
      const alice = byNick('alice');
      const bob = byNick('bob');
      const texts = ['first of three', 'second of three', 'third of three'];
      const sent: string[][] = [];
      for (const text of texts) sent.push(await sendCapturing(alice, bob, text));
      // The host deletes the first one and posts it again at the bottom, as if new.
      await bob.lounge.evaluate(
        (ids: string[]) => {
          for (const id of ids) document.getElementById(id)?.remove();
        },
        sent[0]!.map((html) => /id="([^"]+)"/.exec(html)![1]!),
      );
      const count = (await readers(bob.lounge)).length;
      await repost(bob.lounge, sent[0]!);
      const again = await waitForReader(bob.lounge, count - 1, (r) => r.status === 'repeat');
      expect(again.hidden).toBe(true);
      expect(again.plaintext).toBeNull();
      expect(again.conversation).toContain('#veil');
      const all = await readers(bob.lounge);
      const at = all.findIndex((r) => r.status === 'repeat');
      expect(await reveal(bob.lounge, at)).toBe(texts[0]);
    }),
  );

  it(
    'a block the host moves into another channel shows as moved and names the channel it was written in',
    timed('moved', async () => {
      const alice = byNick('alice');
      const bob = byNick('bob');
      const text = 'only for #veil';
      const markup = await sendCapturing(alice, bob, text);
      // bob joins #other; the host shows alice's #veil block there.
      await bob.lounge.evaluate(() => {
        const box = document.querySelector<HTMLTextAreaElement>('#form textarea#input')!;
        box.value = '/join #other';
        box.dispatchEvent(new Event('input', { bubbles: true }));
        document.querySelector<HTMLElement>('#form #submit')!.click();
      });
      await bob.lounge.waitForSelector(
        '#chat .chat-view[data-type="channel"][aria-label="#other"]',
      );
      const count = (await readers(bob.lounge)).length;
      await repost(bob.lounge, markup);
      const moved = await waitForReader(bob.lounge, count, (r) => r.status === 'moved');
      expect(moved.hidden).toBe(true);
      expect(moved.conversation).toContain('#veil');
      const at = (await readers(bob.lounge)).findIndex((r) => r.status === 'moved');
      expect(await reveal(bob.lounge, at)).toBe(text);
    }),
  );

  describe('lying directories', () => {
    let swap: KeySwapDirectory | undefined;
    let split: SplitViewDirectory | undefined;
    afterAll(async () => {
      await swap?.close();
      await split?.close();
    });

    async function alarms(p: Person): Promise<string[]> {
      return p.ui.page.$$eval(hook('log-alarm'), (els) =>
        els.map((el) => el.getAttribute('data-veil-kind') ?? ''),
      );
    }

    it(
      "a key swapped at first contact is caught by the handle's owner: a loud alarm",
      timed('key swap', async () => {
        swap = await startKeySwapDirectory();
        const [amy, ben] = await Promise.all([profile('amy', swap.url), profile('ben', swap.url)]);
        const amyHalf = (await amy.ui.request({ type: 'status' })).identity!.fingerprint;
        swap.arm('amy');
        await ben.ui.addContact('amy');
        expect(swap.swaps.map((s) => s.handle)).toEqual(['amy']);
        // ben was shown (and pinned) the attacker's key: its fingerprint is not amy's.
        const { contacts } = await ben.ui.request({ type: 'listContacts' });
        expect(contacts.find((c) => c.handle === 'amy')!.fingerprint).not.toBe(amyHalf);
        // What ben writes to "amy" in the chat, amy cannot read …
        await Promise.all([
          joinTheLounge(amy.lounge, loungeUrl, 'amy', { channel: '#veil' }),
          joinTheLounge(ben.lounge, loungeUrl, 'ben', { channel: '#veil' }),
        ]);
        for (const p of [amy, ben])
          await waitForUsers(p.lounge, ['amy', 'ben'], { channel: '#veil' });
        const before = (await readers(amy.lounge)).length;
        await veilSend(ben, ['amy'], 'for amy, or so ben thinks');
        const atAmy = await waitForReaders(amy.lounge, before + 1, (r) => r.status !== null);
        expect(atAmy.at(-1)!.status).toBe('failed');
        // … and her monitor of the log finds the entry she did not make.
        await amy.ui.go('#settings');
        await amy.ui.click(hook('check-log'));
        await amy.ui.waitFor(hook('log-alarm'), 30_000);
        expect(await alarms(amy)).toContain('foreign-entry');
        const popup = await openExtensionPage(
          amy.session.browser,
          new URL(amy.session.origin).host,
          'popup.html',
        );
        await popup.waitForSelector(`${hook('log-alarm')}[data-veil-kind="foreign-entry"]`);
        await popup.close();
      }),
    );

    it(
      'a split view is caught the first time the two people talk',
      timed('split view', async () => {
        split = await startSplitViewDirectory();
        const cody = await profile('cody', split.urlA);
        const dana = await profile('dana', split.urlB);
        // View B rotates cody to the attacker's key; view A logs something else in its place,
        // so both stay the same size (a directory has to show each side a log that grows).
        await split.swapInB('cody', { balance: true });
        await cody.ui.addContact('dana');
        await dana.ui.addContact('cody'); // the attacker's key, as view B shows it
        await Promise.all([
          joinTheLounge(cody.lounge, loungeUrl, 'cody', { channel: '#veil' }),
          joinTheLounge(dana.lounge, loungeUrl, 'dana', { channel: '#veil' }),
        ]);
        for (const p of [cody, dana])
          await waitForUsers(p.lounge, ['cody', 'dana'], { channel: '#veil' });
        // cody's message carries his signed tree head; dana's Veil compares it with hers.
        const before = (await readers(dana.lounge)).length;
        await veilSend(cody, ['dana'], 'hello dana, from cody');
        await waitForReaders(dana.lounge, before + 1, (r) => r.status !== null);
        const deadline = Date.now() + 30_000;
        for (;;) {
          await dana.ui.go('#settings');
          await dana.ui.reload();
          if ((await alarms(dana)).includes('split-view')) break;
          if (Date.now() > deadline) throw new Error('no split-view alarm at dana');
          await sleep(500);
        }
      }),
    );
  });
});
