// The message archive in a real browser (issue 15): alice and bob (Chromium, the built extension)
// talk in #veil on a real The Lounge + ngircd with a real key directory. On alice's options page
// the archive finds their messages by word (highlighted) and by contact; a deleted message is
// gone; the archive survives closing and relaunching the browser on the same profile; a backup
// with the archive round-trips after "delete everything"; a conversation's retention drops what
// is older than its rule; deleting the conversation empties the search.
// Old messages come from the backup: the test opens the downloaded file with the passphrase (as
// only its owner can), dates two archived messages 30 days back and seals it again.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { armor } from '../../extension/protocol/armor';
import { openBackup, sealBackup } from '../../extension/protocol/backup';
import { nobleProvider } from '../../extension/protocol/crypto/noble';
import { fromBase64Url, toBase64Url } from '../../extension/protocol/encoding';
import { startDirectory, type DirectoryServer } from './directory-server';
import {
  CHROMIUM_FLAGS,
  chromiumPath,
  launchChromium,
  openExtensionPage,
  timed,
  type ChromiumSession,
} from './harness';
import {
  ircStackAvailable,
  joinTheLounge,
  startNgircd,
  startTheLounge,
  waitForUsers,
  type IrcServer,
} from './irc-servers';
import { UNTHROTTLED, VIEWPORT, veilSend, waitForPlaintext, type Person } from './lounge-pages';
import { hook, OptionsPage, SECTION } from './options-page';

const CHANNEL = '#veil';
const PASSPHRASE = 'archive horse battery';
const DAY_MS = 86_400_000;
/** Armored blocks the page suddenly shows: a long history, decrypted with progress. */
const HISTORY_BLOCKS = 600;
/** The archive screen's "keep and delete" panel (its notices). */
const KEEP = 'section[aria-labelledby="archive-keep-title"]';

const A1 = 'quokka picnic on saturday, bob';
const A2 = 'bring the lanterns tonight';
/** bob's text looks like markup: the archive shows it as text, and nothing of it runs. */
const B1 = 'Quokka sounds fine, <img src=x onerror="globalThis.veilPwned=1"> I bring bread';
const B2 = 'lanterns are in the shed';

interface Hit {
  sender: string;
  text: string;
  marks: string[];
}

/** The results the options page shows now. */
function hits(page: Page): Promise<Hit[]> {
  return page.$$eval(hook('archive-result'), (els) =>
    els.map((el) => ({
      sender: el.getAttribute('data-veil-sender') ?? '',
      text: el.querySelector('[data-veil="archive-result-text"]')?.textContent ?? '',
      marks: [...el.querySelectorAll('mark')].map((m) => m.textContent ?? ''),
    })),
  );
}

/** VEIL_ARCHIVE_SHOTS=<dir>: screenshots of the archive screen and the popup, to look at. */
async function shot(page: Page, name: string): Promise<void> {
  const dir = process.env.VEIL_ARCHIVE_SHOTS;
  if (dir) await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

const texts = (list: Hit[]) => list.map((h) => h.text).sort();

/** Types `words` in the search box and waits until the results are `expected` (texts, any order). */
async function expectSearch(ui: OptionsPage, words: string, expected: string[]): Promise<Hit[]> {
  await ui.fill(hook('archive-search'), words);
  let last: Hit[] = [];
  await vi.waitFor(
    async () => {
      last = await hits(ui.page);
      expect(texts(last)).toEqual([...expected].sort());
      // The count line belongs to the answer shown (no results: its own sentence).
      await ui.waitFor(hook('archive-count'), 1_000);
    },
    { timeout: 20_000, interval: 150 },
  );
  return last;
}

/** A Chromium profile kept in `dir` across launches (the harness's are thrown away on close). */
async function launchProfile(dir: string, extensionDir: string): Promise<ChromiumSession> {
  const browser: Browser = await puppeteer.launch({
    executablePath: chromiumPath!,
    headless: true,
    pipe: true,
    enableExtensions: true,
    protocolTimeout: 60_000,
    args: [...CHROMIUM_FLAGS, `--user-data-dir=${dir}`, ...UNTHROTTLED],
  });
  const extensionId = await browser.installExtension(extensionDir);
  return {
    browser,
    extensionId,
    origin: `chrome-extension://${extensionId}/`,
    close: () => browser.close(),
  };
}

async function downloaded(dir: string, timeout = 30_000): Promise<string> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const done = fs.readdirSync(dir).filter((f) => !f.endsWith('.crdownload'));
    if (done.length > 0) return path.join(dir, done[0]!);
    if (Date.now() > deadline) throw new Error('no download');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const canRun = Boolean(chromiumPath) && ircStackAvailable;
if (!canRun)
  console.warn('[e2e] skipping the archive test: needs Chromium, ngircd and tools/thelounge');

describe.skipIf(!canRun)('the message archive on The Lounge (Chromium)', () => {
  const extensionDir = inject('chromeExtensionDir');
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-archive-alice-'));
  const downloads = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-archive-downloads-'));
  let directory: DirectoryServer;
  let ngircd: IrcServer;
  let thelounge: IrcServer;
  let loungeUrl: string;
  const sessions: ChromiumSession[] = [];

  async function person(nick: string, session: ChromiumSession): Promise<Person> {
    sessions.push(session);
    const options = await openExtensionPage(session.browser, session.extensionId, 'options.html');
    const ui = new OptionsPage(options, session.origin);
    const lounge = await session.browser.newPage({ type: 'window' });
    await ui.onboard(nick, directory.url);
    await ui.enableSite(new URL(loungeUrl).host);
    await lounge.setViewport(VIEWPORT);
    return { nick, session, ui, lounge };
  }

  beforeAll(async () => {
    [directory, ngircd] = await Promise.all([startDirectory(), startNgircd()]);
    thelounge = await startTheLounge({ ircPort: ngircd.port, channel: CHANNEL });
    loungeUrl = `http://127.0.0.1:${thelounge.port}/`;
  });

  afterAll(async () => {
    for (const s of sessions) await s.close().catch(() => undefined);
    await thelounge?.stop();
    await ngircd?.stop();
    await directory?.stop();
    fs.rmSync(profileDir, { recursive: true, force: true });
    fs.rmSync(downloads, { recursive: true, force: true });
  });

  it(
    'finds messages by word and contact, deletes, survives a restart, round-trips a backup, honours retention',
    timed('archive', async () => {
      const [alice, bob] = await Promise.all([
        launchProfile(profileDir, extensionDir).then((s) => person('alice', s)),
        launchChromium({ extensionDir, args: UNTHROTTLED }).then((s) => person('bob', s)),
      ]);
      await alice.ui.addContact('bob');
      await bob.ui.addContact('alice');
      await Promise.all([
        joinTheLounge(alice.lounge, loungeUrl, 'alice', { channel: CHANNEL }),
        joinTheLounge(bob.lounge, loungeUrl, 'bob', { channel: CHANNEL }),
      ]);
      for (const page of [alice.lounge, bob.lounge])
        await waitForUsers(page, ['alice', 'bob'], { channel: CHANNEL });

      await veilSend(alice, ['bob'], A1);
      await veilSend(bob, ['alice'], B1);
      await veilSend(alice, ['bob'], A2);
      await veilSend(bob, ['alice'], B2);
      // alice reads bob's messages (reading archives them; her own were archived on sending).
      await waitForPlaintext(alice.lounge, B1);
      await waitForPlaintext(alice.lounge, B2);

      // A long history appears on alice's page (the page adds it; none of it decrypts): the popup
      // shows it as a task with a count and a bar, and its Cancel stops the page's queue.
      const popup0 = await openExtensionPage(
        alice.session.browser,
        alice.session.extensionId,
        'popup.html',
      );
      const randomBytes = (n: number) => crypto.getRandomValues(new Uint8Array(n));
      const history = Array.from({ length: HISTORY_BLOCKS }, () =>
        armor(randomBytes(48), { randomBytes }).join('\n'),
      );
      await alice.lounge.evaluate((blocks: string[]) => {
        const list = document.querySelector('#chat .chat-view .messages')!;
        const lines = document.createDocumentFragment();
        for (const text of blocks) {
          const msg = document.createElement('div');
          msg.className = 'msg';
          msg.setAttribute('data-type', 'message');
          const from = msg.appendChild(document.createElement('span'));
          from.className = 'from';
          const user = from.appendChild(document.createElement('span'));
          user.className = 'user';
          user.setAttribute('data-name', 'mallory');
          user.textContent = 'mallory';
          const content = msg.appendChild(document.createElement('span'));
          content.className = 'content';
          content.textContent = text;
          lines.append(msg);
        }
        list.append(lines);
      }, history);
      const bar = `${hook('archive-progress')}[data-veil-kind="page-history"]`;
      await popup0.waitForSelector(bar, { timeout: 20_000 });
      const progress = await popup0.$eval(bar, (el) => ({
        done: Number(el.getAttribute('data-veil-done')),
        total: Number(el.getAttribute('data-veil-total')),
        bar: el.querySelector('progress')?.max,
      }));
      expect(progress.total).toBe(HISTORY_BLOCKS);
      expect(progress.done).toBeLessThan(HISTORY_BLOCKS);
      expect(progress.bar).toBe(HISTORY_BLOCKS);
      await popup0.click(`${bar} ${hook('archive-cancel')}`);
      await popup0.waitForSelector(bar, { hidden: true, timeout: 10_000 });
      const shown = () =>
        alice.lounge.$$eval(
          '[data-veil="message"], [data-veil="message-pending"]',
          (els) => els.length,
        );
      const afterCancel = await shown();
      await new Promise((r) => setTimeout(r, 1500));
      expect(await shown()).toBe(afterCancel);
      expect(afterCancel).toBeLessThan(HISTORY_BLOCKS);
      console.log(
        `[e2e] page history: bar at ${progress.done} of ${progress.total}, ${afterCancel} blocks shown after cancel`,
      );
      await popup0.close();

      // By word, highlighted; the host page never learns any of it.
      const ui = alice.ui;
      await ui.go('#archive');
      const quokka = await expectSearch(ui, 'quokka', [A1, B1]);
      for (const hit of quokka) expect(hit.marks.map((m) => m.toLowerCase())).toEqual(['quokka']);
      expect(quokka.find((h) => h.text === B1)?.sender).toBe('bob');
      await shot(ui.page, 'archive-search');
      expect(await ui.has(`${hook('archive-result')} img`)).toBe(false);
      expect(await ui.page.evaluate(() => 'veilPwned' in globalThis)).toBe(false);

      // By contact (no words: newest first), and a date range that excludes them all. What the
      // page asks is recorded too: every message here involves bob, so only the request shows
      // the filter was applied.
      await ui.page.evaluate(() => {
        type Runtime = { sendMessage(m: unknown): Promise<unknown> };
        const { runtime } = (globalThis as unknown as { chrome: { runtime: Runtime } }).chrome;
        const send = runtime.sendMessage.bind(runtime);
        const sent: unknown[] = [];
        (globalThis as { veilSent?: unknown[] }).veilSent = sent;
        runtime.sendMessage = (m: unknown) => (sent.push(m), send(m));
      });
      await ui.page.select(hook('archive-filter-contact'), 'bob');
      await expectSearch(ui, '', [A1, A2, B1, B2]);
      const asked = await ui.page.evaluate(() =>
        ((globalThis as { veilSent?: { type?: string }[] }).veilSent ?? []).filter(
          (m) => m.type === 'archiveSearch',
        ),
      );
      expect(asked.at(-1)).toMatchObject({ words: '', contact: 'bob' });
      const tomorrow = new Date(Date.now() + DAY_MS).toISOString().slice(0, 10);
      await ui.page.$eval(
        hook('archive-filter-from'),
        (el, v) => {
          (el as HTMLInputElement).value = v as string;
          el.dispatchEvent(new Event('change', { bubbles: true }));
        },
        tomorrow,
      );
      await expectSearch(ui, '', []);
      await ui.reload();

      // Deleting one message: gone from the search, the other with the word stays.
      await expectSearch(ui, 'lanterns', [A2, B2]);
      const rows = await ui.page.$$(hook('archive-result'));
      for (const row of rows) {
        const text = await row.$eval(hook('archive-result-text'), (el) => el.textContent);
        if (text === B2) await (await row.$(hook('archive-delete-message')))!.click();
      }
      await expectSearch(ui, 'lanterns', [A2]);

      // "Open": the tab it was read in scrolls to its reader frame and outlines it.
      await ui.click(hook('archive-open'));
      await alice.lounge.waitForSelector(`${hook('message')}[data-veil-revealed]`, {
        timeout: 15_000,
      });

      // The browser closes and opens again on the same profile: the archive is still there.
      await alice.session.close();
      const again = await launchProfile(profileDir, extensionDir);
      sessions.push(again);
      expect(again.extensionId).toBe(alice.session.extensionId);
      const page = await openExtensionPage(
        again.browser,
        again.extensionId,
        'options.html#archive',
      );
      const ui2 = new OptionsPage(page, again.origin);
      await ui2.go('#archive');
      await expectSearch(ui2, 'quokka', [A1, B1]);
      await expectSearch(ui2, 'lanterns', [A2]);
      // The popup searches the same archive.
      const popup = await openExtensionPage(again.browser, again.extensionId, 'popup.html');
      await popup.setViewport({ width: 360, height: 600 });
      await expectSearch(new OptionsPage(popup, again.origin), 'lanterns', [A2]);
      await shot(popup, 'archive-popup');
      await popup.close();

      // A backup with the archive.
      const cdp = await again.browser.target().createCDPSession();
      await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
      await ui2.go('#backup');
      await ui2.fill(hook('backup-passphrase'), PASSPHRASE);
      await ui2.fill(hook('backup-passphrase-confirm'), PASSPHRASE);
      await ui2.click(hook('backup-include-archive'));
      await ui2.click(hook('backup-download'));
      await ui2.success(SECTION.exportBackup, 60_000);
      const file = fs.readFileSync(await downloaded(downloads), 'utf8').trim();

      // Delete everything (after confirming): nothing is found any more.
      await ui2.go('#archive');
      await ui2.click(hook('archive-delete-all'));
      await ui2.click(hook('archive-delete-all-confirm'));
      await ui2.success(KEEP, 30_000);
      await expectSearch(ui2, 'quokka', []);
      expect((await ui2.request({ type: 'archiveOverview' })).messages).toBe(0);

      // Everything else goes too (a restore never replaces an identity), then the backup comes
      // back with the two "quokka" messages dated 30 days back.
      await ui2.go('#settings');
      await ui2.click(hook('delete-everything'));
      await ui2.click(hook('confirm-delete'));
      await vi.waitFor(
        async () => expect((await ui2.request({ type: 'status' })).identity).toBeUndefined(),
        { timeout: 30_000, interval: 250 },
      );
      const contents = await openBackup(fromBase64Url(file), PASSPHRASE);
      const part = contents.extra?.archive as { records: { text: string; at: number }[] };
      expect(texts(part.records as unknown as Hit[])).toEqual([A1, A2, B1].sort());
      const old = Date.now() - 30 * DAY_MS;
      for (const r of part.records) if (/quokka/i.test(r.text)) r.at = old;
      const resealed = path.join(downloads, 'backdated.veilbackup');
      fs.writeFileSync(
        resealed,
        toBase64Url(await sealBackup(contents, PASSPHRASE, nobleProvider)),
      );
      await ui2.go('#backup');
      const input = await ui2.waitFor(hook('restore-file'));
      await (input as unknown as { uploadFile(p: string): Promise<void> }).uploadFile(resealed);
      await ui2.fill(hook('restore-passphrase'), PASSPHRASE);
      await ui2.click(hook('restore'));
      await vi.waitFor(
        async () => expect((await ui2.request({ type: 'archiveOverview' })).messages).toBe(3),
        { timeout: 30_000, interval: 250 },
      );
      await ui2.go('#archive');
      await expectSearch(ui2, 'quokka', [A1, B1]);

      // #veil keeps 7 days: the two old messages go, the new one stays.
      const conversation = `${hook('archive-conversation')}:has(${hook('archive-retention-conversation')})`;
      await ui2.waitFor(conversation);
      await ui2.page.select(`${conversation} ${hook('archive-retention-conversation')}`, 'days');
      await ui2.fill(`${conversation} ${hook('archive-retention-conversation-days')}`, '7');
      await ui2.click(`${conversation} ${hook('archive-retention-conversation-apply')}`);
      await ui2.success(KEEP, 30_000);
      await ui2.reload();
      await expectSearch(ui2, 'quokka', []);
      await expectSearch(ui2, 'lanterns', [A2]);

      // Deleting the conversation: nothing of it is found.
      await ui2.click(`${conversation} ${hook('archive-delete-conversation')}`);
      await ui2.success(KEEP, 30_000);
      await ui2.reload();
      await expectSearch(ui2, 'lanterns', []);
      await expectSearch(ui2, '', []);
      expect((await ui2.request({ type: 'archiveOverview' })).conversations).toEqual([]);
    }),
    150_000,
  );
});
