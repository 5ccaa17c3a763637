// Linked devices end to end (issue 14, "Done means"): alice on two browsers, Chromium (alice1,
// holding the account key) and Firefox ESR (alice2, linked with one code), and bob on Chromium
// write to each other in a The Lounge query. The Lounge runs in private mode with one account
// per person, so both of alice's browsers show the same conversation; all three read every
// message, in the query and in the #veil channel (group sender keys go to every device), and
// once alice1 removes alice2 it reads nothing bob sends afterwards, in either.
// Directory, ngircd and The Lounge run on 127.0.0.1 and are stopped by PID in afterAll.
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dearmor } from '../../extension/protocol/armor';
import { decodeEnvelope, type Envelope } from '../../extension/protocol/envelope';
import { startDirectory, type DirectoryServer } from './directory-server';
import {
  chromiumPath,
  firefoxPath,
  launchChromium,
  launchFirefox,
  openExtensionPage,
  openFirefoxExtensionPage,
  timed,
  type ChromiumSession,
  type FirefoxSession,
} from './harness';
import {
  ircStackAvailable,
  openQueryWindow,
  signInTheLounge,
  startNgircd,
  waitForUsers,
  startTheLounge,
  type IrcServer,
  type LoungeUser,
} from './irc-servers';
import {
  bodiesBy,
  hostSees,
  plainSend,
  readers,
  veilSend,
  waitForPlaintext,
  waitForReaders,
  type Person,
  UNTHROTTLED,
  VIEWPORT,
} from './lounge-pages';
import { hook, onlyDigits, OptionsPage } from './options-page';

const ALICE: LoungeUser = { name: 'alice', password: 'alice-lounge-pw' };
const BOB: LoungeUser = { name: 'bob', password: 'bob-lounge-pw' };

/**
 * Senders fetch device lists again at most once a minute (extension/background/linked-devices.ts
 * LIST_FRESH_MS, no test hook): bob's first send after the removal must come this long after
 * his last one, so it sees the new list. A little more, for the clocks of two processes.
 */
const LIST_FRESH_MS = 60_000;
const LIST_FRESH_MARGIN_MS = 3_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits up to `timeout` for `selector` on `page`, in rounds shorter than the harness's protocol
 * timeout (60 s: one long wait would fail as a protocol error, not as a timeout).
 */
async function waitLong(page: Page, selector: string, timeout: number, what: string) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const round = Math.min(20_000, Math.max(1, deadline - Date.now()));
    if (await page.waitForSelector(selector, { timeout: round }).catch(() => null)) return;
    if (Date.now() >= deadline) throw new Error(`${what}: no ${selector} after ${timeout} ms`);
  }
}

/** What both sides of a link say (for failure messages): notices shown, the link's state. */
async function linkState(host: OptionsPage, joiner: OptionsPage) {
  const notices = (ui: OptionsPage) =>
    ui.page.$$eval(hook('notice'), (els) => els.map((el) => el.textContent ?? '')).catch(String);
  return {
    host: await notices(host),
    joiner: await notices(joiner),
    linkStatus: await host.raw({ type: 'linkStatus' }).catch(String),
    joinStatus: await joiner.raw({ type: 'joinStatus' }).catch(String),
  };
}

/** The envelope of the lines `author` wrote in the open window from the `before`-th on. */
async function envelopeSince(page: Page, author: string, before: number): Promise<Envelope> {
  const lines = (await bodiesBy(page, author)).slice(before);
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) expect(line).toMatch(/^VeiL[AB][0-9A-Za-z]+$/);
  return decodeEnvelope(dearmor(lines.join('\n')));
}

const CHANNEL = '#veil';
const CHANNEL_FROM_BOB = 'bob in #veil: the heron is on the weir again';
const CHANNEL_FROM_FIREFOX = 'alice in #veil from firefox: the weir is flooding';

/** Opens the channel every account joined (private mode: in the user's config) from the sidebar. */
async function openChannelWindow(page: Page, channel = CHANNEL): Promise<void> {
  const item = `#sidebar .channel-list-item[data-type="channel"][data-name="${channel}"]`;
  const entry = await page.waitForSelector(item, { timeout: 30_000 });
  await entry!.click();
  await page.waitForFunction(
    (name: string) => {
      const open = document.querySelector('#chat .chat-view');
      return (
        open?.getAttribute('data-type') === 'channel' && open.getAttribute('aria-label') === name
      );
    },
    { timeout: 30_000, polling: 100 },
    channel,
  );
}

/** The devices the Settings → Devices list shows, once it shows `count` of them. */
async function deviceIdsShown(ui: OptionsPage, count: number): Promise<string[]> {
  await ui.go('#settings');
  await ui.page
    .waitForFunction(
      (sel: string, n: number) => document.querySelectorAll(sel).length === n,
      { timeout: 30_000, polling: 200 },
      `${hook('device-list')} ${hook('device')}`,
      count,
    )
    .catch(async (error: unknown) => {
      const shown = await ui.page
        .$eval(hook('device-list'), (el) => el.textContent)
        .catch(() => 'no device list');
      throw new Error(`expected ${count} devices in Settings → Devices, saw: ${shown} (${error})`);
    });
  return ui.page.$$eval(`${hook('device-list')} ${hook('device')}`, (els) =>
    els.map((el) => el.getAttribute('data-device-id') ?? ''),
  );
}

const canRun = Boolean(chromiumPath) && Boolean(firefoxPath) && ircStackAvailable;
if (!canRun)
  console.warn(
    '[e2e] skipping linked devices: needs Chromium, Firefox ESR, ngircd and tools/thelounge',
  );

describe.skipIf(!canRun)('linked devices on The Lounge (Chromium + Firefox ESR)', () => {
  let directory: DirectoryServer;
  let ngircd: IrcServer;
  let thelounge: IrcServer;
  let loungeUrl: string;
  const sessions: (ChromiumSession | FirefoxSession)[] = [];
  let alice1: Person;
  let alice2: Person;
  let bob: Person;
  let aliceFingerprint: string;
  /** When bob's last message went out (his copy of alice's device list is that old at most). */
  let bobSentAt = 0;

  async function onboardChromium(nick: string): Promise<{ person: Person; fingerprint: string }> {
    const session = await launchChromium({
      extensionDir: inject('chromeExtensionDir'),
      args: UNTHROTTLED,
    });
    sessions.push(session);
    const options = await openExtensionPage(session.browser, session.extensionId, 'options.html');
    const ui = new OptionsPage(options, session.origin);
    // Its own window, so both pages stay visible (reader frames mount only in a shown page).
    const lounge = await session.browser.newPage({ type: 'window' });
    await lounge.setViewport(VIEWPORT);
    const fingerprint = await ui.onboard(nick, directory.url);
    await ui.enableSite(new URL(loungeUrl).host);
    return { person: { nick, session, ui, lounge }, fingerprint };
  }

  beforeAll(async () => {
    const started = Date.now();
    [directory, ngircd] = await Promise.all([startDirectory(), startNgircd()]);
    thelounge = await startTheLounge({ ircPort: ngircd.port, users: [ALICE, BOB] });
    loungeUrl = `http://127.0.0.1:${thelounge.port}/`;
    console.log(`[e2e] directory, ngircd, The Lounge (private) up in ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    for (const s of sessions) await s.close().catch(() => undefined);
    await thelounge?.stop();
    await ngircd?.stop();
    await directory?.stop();
  });

  it(
    'alice links Firefox ESR to her account with one code: same fingerprint, two devices on both',
    timed('link a Firefox browser', async () => {
      const [a1, b] = await Promise.all([onboardChromium('alice'), onboardChromium('bob')]);
      alice1 = a1.person;
      aliceFingerprint = a1.fingerprint;
      bob = b.person;
      await alice1.ui.addContact('bob');
      await bob.ui.addContact('alice');

      const firefox = await launchFirefox({ extensionDir: inject('firefoxExtensionDir') });
      sessions.push(firefox);
      const options = await openFirefoxExtensionPage(firefox.browser, 'options.html');
      const ui2 = new OptionsPage(options, firefox.origin);
      await ui2.waitFor(hook('join-code'));
      // The "joined" line shows until the page moves on to the new identity: note it if it
      // comes, however briefly.
      await ui2.page.evaluate(() => {
        const w = window as unknown as { veilJoined?: string };
        new MutationObserver(() => {
          const el = document.querySelector('[data-veil="joined"]');
          if (el) w.veilJoined = el.textContent ?? '';
        }).observe(document.body, { subtree: true, childList: true, characterData: true });
      });

      // alice1: Settings → Devices → link a new browser; the code shows as text (and QR code).
      await alice1.ui.go('#settings');
      await alice1.ui.click(hook('link-device'));
      await alice1.ui.waitFor(hook('link-code'));
      await alice1.ui.page.waitForFunction(
        (sel: string) =>
          (document.querySelector(sel) as HTMLTextAreaElement | null)?.value.startsWith(
            'veil-link:',
          ),
        { timeout: 20_000 },
        hook('link-code'),
      );
      const code = await alice1.ui.page.$eval(
        hook('link-code'),
        (el) => (el as HTMLTextAreaElement).value,
      );

      // alice2 (not onboarded) pastes it on the first screen and joins; it shows its device's
      // fingerprint, which alice1 shows too and links only once alice confirms it is the same.
      const linkStarted = Date.now();
      await ui2.fill(hook('join-code'), code);
      await ui2.click(hook('join-button'));
      const newDevice = await ui2.text(hook('join-fingerprint'));
      expect(onlyDigits(newDevice)).toHaveLength(30);
      try {
        await waitLong(alice1.ui.page, hook('link-confirm'), 60_000, 'alice1 asked to confirm');
      } catch (error) {
        const state = await linkState(alice1.ui, ui2);
        throw new Error(`alice1 was not asked to link: ${JSON.stringify(state)}; ${error}`);
      }
      expect(await alice1.ui.text(hook('link-fingerprint'))).toBe(newDevice);
      await alice1.ui.click(hook('confirm-link'));
      try {
        await waitLong(alice1.ui.page, hook('device-linked'), 120_000, 'alice1 linking');
        // Joined shows for a moment (then the page moves on), or the new identity is there.
        await ui2.page.waitForFunction(
          () =>
            (window as unknown as { veilJoined?: string }).veilJoined !== undefined ||
            document.querySelector('[data-veil="joined"]') !== null,
          { timeout: 45_000, polling: 200 },
        );
      } catch (error) {
        const state = await linkState(alice1.ui, ui2);
        throw new Error(`linking did not finish: ${JSON.stringify(state)}; ${error}`);
      }
      console.log(`[e2e] linked in ${Date.now() - linkStarted} ms`);
      const joined = await ui2.page.evaluate(
        () =>
          (window as unknown as { veilJoined?: string }).veilJoined ??
          document.querySelector('[data-veil="joined"]')?.textContent ??
          '',
      );
      expect(joined).toContain('alice');

      // Same person: the same fingerprint (safety numbers stay as they were), on both screens.
      await ui2.go('#welcome');
      const shown2 = onlyDigits(await ui2.text(`${hook('identity')} ${hook('fingerprint')}`));
      expect(shown2).toHaveLength(30);
      expect(shown2).toBe(aliceFingerprint);
      // Two devices on both, each knowing which one it is.
      expect(await deviceIdsShown(alice1.ui, 2)).toEqual(['1', '2']);
      expect(await deviceIdsShown(ui2, 2)).toEqual(['1', '2']);
      const thisOne = (ui: OptionsPage) =>
        ui.page.$$eval(`${hook('device-list')} ${hook('device')}`, (els) =>
          els
            .filter((el) => !el.querySelector('[data-veil="device-seen"]'))
            .map((el) => el.getAttribute('data-device-id')),
        );
      expect(await thisOne(alice1.ui)).toEqual(['1']);
      expect(await thisOne(ui2)).toEqual(['2']);
      // Only the account key's browser links and removes.
      expect(await alice1.ui.has(hook('remove-device'))).toBe(true);
      expect(await ui2.has(hook('remove-device'))).toBe(false);
      expect(await ui2.has(hook('link-device'))).toBe(false);
      // bob came with the link (alice1 had added him).
      const { contacts } = await ui2.request({ type: 'listContacts' });
      expect(contacts.map((c) => c.handle)).toContain('bob');

      await ui2.enableSite(new URL(loungeUrl).host);
      const lounge = await firefox.browser.newPage({ type: 'window' });
      await lounge.setViewport(VIEWPORT);
      alice2 = { nick: 'alice', session: firefox, ui: ui2, lounge };
    }),
  );

  it(
    "both of alice's browsers sign in to her Lounge account and show bob's query",
    timed('sign in, open the query', async () => {
      await Promise.all([
        signInTheLounge(alice1.lounge, loungeUrl, ALICE),
        signInTheLounge(alice2.lounge, loungeUrl, ALICE),
        signInTheLounge(bob.lounge, loungeUrl, BOB),
      ]);
      // bob opens a private chat with alice and says hello in plain text (no secret in it): the
      // query shows up in alice's account, so on both of her pages.
      await plainSend(bob.lounge, '/query alice');
      await openQueryWindow(bob.lounge, 'alice');
      await plainSend(bob.lounge, 'hello alice (plain)');
      await Promise.all([
        openQueryWindow(alice1.lounge, 'bob'),
        openQueryWindow(alice2.lounge, 'bob'),
      ]);
      for (const page of [alice1.lounge, alice2.lounge]) {
        await page.waitForFunction(
          () =>
            [...document.querySelectorAll('#chat .chat-view .msg .content')].some(
              (el) => el.textContent === 'hello alice (plain)',
            ),
          { timeout: 30_000, polling: 200 },
        );
        // Veil's toggle is there in the query too.
        await page.waitForSelector(hook('toggle'), { timeout: 30_000 });
      }
    }),
  );

  it(
    "#veil: bob's channel message reads on both of alice's browsers; her Firefox's on bob's and as her own on her Chromium",
    timed('channel across devices', async () => {
      await Promise.all(
        [alice1, alice2, bob].map(async (p) => {
          await openChannelWindow(p.lounge);
          await waitForUsers(p.lounge, ['alice', 'bob'], { channel: CHANNEL });
        }),
      );
      const before = (await bodiesBy(alice1.lounge, 'bob')).length;
      const fromBob = CHANNEL_FROM_BOB;
      await veilSend(bob, ['alice'], fromBob);
      for (const page of [alice1.lounge, alice2.lounge])
        expect(await waitForPlaintext(page, fromBob, 60_000)).toMatchObject({
          status: 'unverified',
          sender: 'bob',
        });
      // One text under bob's sender key; its key went to each of alice's browsers.
      const bundle = await envelopeSince(alice1.lounge, 'bob', before);
      expect(bundle.type).toBe(4);
      expect(bundle.type === 4 && bundle.pairwise.length).toBe(2);

      const fromFirefox = CHANNEL_FROM_FIREFOX;
      await veilSend(alice2, ['bob'], fromFirefox);
      expect(await waitForPlaintext(bob.lounge, fromFirefox, 60_000)).toMatchObject({
        status: 'unverified',
        sender: 'alice',
      });
      expect(await waitForPlaintext(alice1.lounge, fromFirefox, 60_000)).toMatchObject({
        status: 'verified',
        sender: 'You (alice)',
      });
      for (const page of [alice1.lounge, alice2.lounge, bob.lounge])
        expect(await hostSees(page)).not.toMatch(/heron|flooding/);
      // Back to the query, where the next step writes.
      await Promise.all([
        openQueryWindow(alice1.lounge, 'bob'),
        openQueryWindow(alice2.lounge, 'bob'),
        openQueryWindow(bob.lounge, 'alice'),
      ]);
    }),
  );

  it(
    'bob → alice: her Chromium and her Firefox read it (one fan-out: a wrap per device)',
    timed('bob to both of alice', async () => {
      const before = (await bodiesBy(alice1.lounge, 'bob')).length;
      const text = 'bob to alice: the swifts are back under the eaves';
      await veilSend(bob, ['alice'], text);
      bobSentAt = Date.now();
      for (const page of [alice1.lounge, alice2.lounge])
        expect(await waitForPlaintext(page, text, 60_000)).toMatchObject({
          status: 'unverified',
          sender: 'bob',
        });
      const envelope = await envelopeSince(alice1.lounge, 'bob', before);
      expect(envelope.type).toBe(6);
      expect(envelope.type === 6 && envelope.wraps.length).toBe(2);
      for (const page of [alice1.lounge, alice2.lounge])
        expect(await hostSees(page)).not.toContain('swifts');
    }),
  );

  it(
    'alice1 (Chromium) → bob: bob reads it from alice; her Firefox reads her own message',
    timed('alice1 to bob', async () => {
      const before = (await bodiesBy(bob.lounge, 'alice')).length;
      const text = 'alice from chromium: the ferry leaves at nine';
      await veilSend(alice1, ['bob'], text);
      expect(await waitForPlaintext(bob.lounge, text, 60_000)).toMatchObject({
        status: 'unverified',
        sender: 'alice',
      });
      // Her other browser shows it as her own, in the conversation with bob (not moved).
      expect(await waitForPlaintext(alice2.lounge, text, 60_000)).toMatchObject({
        status: 'verified',
        sender: 'You (alice)',
      });
      // Her own line renders on the browser that wrote it too.
      expect((await waitForPlaintext(alice1.lounge, text)).status).not.toBe('failed');
      // Wrapped for bob's one device and for alice's other one.
      const envelope = await envelopeSince(bob.lounge, 'alice', before);
      expect(envelope.type).toBe(6);
      expect(envelope.type === 6 && envelope.wraps.length).toBe(2);
    }),
  );

  it(
    'alice2 (Firefox ESR) → bob: bob reads it from alice; her Chromium reads it',
    timed('alice2 to bob', async () => {
      const before = (await bodiesBy(bob.lounge, 'alice')).length;
      const text = 'alice from firefox: bring the blue umbrella';
      await veilSend(alice2, ['bob'], text);
      expect(await waitForPlaintext(bob.lounge, text, 60_000)).toMatchObject({
        status: 'unverified',
        sender: 'alice',
      });
      expect(await waitForPlaintext(alice1.lounge, text, 60_000)).toMatchObject({
        status: 'verified',
        sender: 'You (alice)',
      });
      expect((await waitForPlaintext(alice2.lounge, text)).status).not.toBe('failed');
      const envelope = await envelopeSince(bob.lounge, 'alice', before);
      expect(envelope.type).toBe(6);
      expect(envelope.type === 6 && envelope.wraps.length).toBe(2);
      // alice1 saw a message from her other device: Settings → Devices says when.
      await alice1.ui.go('#settings');
      await alice1.ui.page.waitForFunction(
        (sel: string) => {
          const seen = document.querySelector(sel);
          return seen !== null && seen.textContent !== '';
        },
        { timeout: 20_000 },
        `${hook('device')}[data-device-id="2"] ${hook('device-seen')}`,
      );
    }),
  );

  it(
    'alice1 removes her Firefox: it reads nothing bob sends afterwards, her Chromium does',
    timed('remove a device', async () => {
      await alice1.ui.go('#settings');
      await alice1.ui.click(`${hook('device')}[data-device-id="2"] ${hook('remove-device')}`);
      expect(await deviceIdsShown(alice1.ui, 1)).toEqual(['1']);

      // No test hook for the list's freshness: wait until bob's copy of alice's list is stale.
      const wait = bobSentAt + LIST_FRESH_MS + LIST_FRESH_MARGIN_MS - Date.now();
      console.log(`[e2e] waiting ${Math.max(0, wait)} ms for bob's device lists to go stale`);
      if (wait > 0) await sleep(wait);

      const readersBefore = (await readers(alice2.lounge)).length;
      const linesBefore = (await bodiesBy(alice1.lounge, 'bob')).length;
      const text = 'bob after the removal: only your chromium may read this';
      await veilSend(bob, ['alice'], text);
      expect(await waitForPlaintext(alice1.lounge, text, 60_000)).toMatchObject({
        status: 'unverified',
        sender: 'bob',
      });
      // alice2 gets the line (same Lounge account) but cannot open it.
      const atAlice2 = await waitForReaders(
        alice2.lounge,
        readersBefore + 1,
        (r) => r.status !== null,
        60_000,
      );
      expect(atAlice2.at(-1)).toMatchObject({ status: 'failed', plaintext: null });
      expect(atAlice2.map((r) => r.plaintext)).not.toContain(text);
      expect(await hostSees(alice2.lounge)).not.toContain('only your chromium');
      // Wrapped for alice1 alone.
      const envelope = await envelopeSince(alice1.lounge, 'bob', linesBefore);
      if (envelope.type === 6) expect(envelope.wraps.length).toBe(1);
    }),
  );

  it(
    "#veil after the removal: bob's next channel message is under a new sender key her Firefox never got",
    timed('channel after removal', async () => {
      await Promise.all([alice1, alice2, bob].map((p) => openChannelWindow(p.lounge)));
      // The channel re-renders: count its readers once the earlier messages show again.
      for (const earlier of [CHANNEL_FROM_BOB, CHANNEL_FROM_FIREFOX])
        await waitForPlaintext(alice2.lounge, earlier, 30_000);
      const readersBefore = (await readers(alice2.lounge)).length;
      const linesBefore = (await bodiesBy(alice1.lounge, 'bob')).length;
      const text = 'bob in #veil after the removal: the sluice opens at noon';
      await veilSend(bob, ['alice'], text);
      expect(await waitForPlaintext(alice1.lounge, text, 60_000)).toMatchObject({
        status: 'unverified',
        sender: 'bob',
      });
      const atAlice2 = await waitForReaders(
        alice2.lounge,
        readersBefore + 1,
        (r) => r.status !== null,
        60_000,
      );
      expect(atAlice2.at(-1)).toMatchObject({ status: 'failed', plaintext: null });
      expect(await hostSees(alice2.lounge)).not.toContain('sluice');
      // A new key (the removed browser held the old one), given to alice1 alone.
      const bundle = await envelopeSince(alice1.lounge, 'bob', linesBefore);
      expect(bundle.type).toBe(4);
      expect(bundle.type === 4 && bundle.pairwise.length).toBe(1);
    }),
  );
});
