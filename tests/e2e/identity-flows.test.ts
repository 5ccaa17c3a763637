// Identity flows in real browsers with the built extension and the real key directory on
// loopback: onboarding, two profiles verifying each other, a service-worker stop mid-flow,
// backup and restore into a fresh profile, and a key change that blocks sending until it is
// acknowledged. The Chromium steps build on each other (one directory; profiles alice and bob).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDirectory, type DirectoryServer } from './directory-server';
import {
  chromiumPath,
  firefoxPath,
  isServiceWorkerRunning,
  launchChromium,
  launchFirefox,
  openExtensionPage,
  openFirefoxExtensionPage,
  stopServiceWorker,
  timed,
  type ChromiumSession,
  type FirefoxSession,
} from './harness';
import { hook, onlyDigits, OptionsPage, SECTION } from './options-page';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** VEIL_SCREENSHOTS=1 refreshes the README screenshots in docs/screenshots/. */
const SCREENSHOT_DIR =
  process.env.VEIL_SCREENSHOTS === '1' ? path.join(repoRoot, 'docs/screenshots') : null;
const VIEWPORT = { width: 1000, height: 700 };
const SAFETY_NUMBER_SHOWN = /^(\d{5} ){11}\d{5}$/;

async function screenshot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOT_DIR) return;
  await page.evaluate(() => {
    scrollTo(0, 0);
    (document.activeElement as HTMLElement | null)?.blur();
  });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) });
}

async function directoryEntry(directory: DirectoryServer, handle: string) {
  const res = await fetch(`${directory.url}/v1/identities/${handle}`);
  if (res.status === 404) return null;
  expect(res.status).toBe(200);
  return (await res.json()) as { handle: string; identityKey: string; safetyNumberHalf: string };
}

/** Waits until a download lands in `dir` (Chromium writes `.crdownload` until done). */
async function downloaded(dir: string, timeout = 30_000): Promise<string> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const done = fs.readdirSync(dir).filter((f) => !f.endsWith('.crdownload'));
    if (done.length > 0) return path.join(dir, done[0]!);
    if (Date.now() > deadline) throw new Error(`no download in ${dir} after ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

if (!chromiumPath) console.warn('[e2e] skipping Chromium identity flows: no Chromium found');

describe.skipIf(!chromiumPath)('identity flows in Chromium', () => {
  const extensionDir = inject('chromeExtensionDir');
  interface Profile {
    session: ChromiumSession;
    ui: OptionsPage;
    fingerprint: string;
  }
  let directory: DirectoryServer;
  let alice: Profile;
  let bob: Profile;

  async function openProfile(): Promise<Profile> {
    const session = await launchChromium({ extensionDir });
    try {
      const page = await openExtensionPage(session.browser, session.extensionId, 'options.html');
      await page.setViewport(VIEWPORT);
      return { session, ui: new OptionsPage(page, session.origin), fingerprint: '' };
    } catch (error) {
      await session.close();
      throw error;
    }
  }

  beforeAll(async () => {
    directory = await startDirectory();
    alice = await openProfile();
    bob = await openProfile();
  });

  afterAll(async () => {
    await alice?.session.close();
    await bob?.session.close();
    await directory?.stop();
  });

  it(
    'onboarding creates an identity and publishes it to the directory',
    timed('onboarding', async () => {
      // By keyboard: the screen's heading has focus, Tab goes through the form in order.
      const { ui } = alice;
      const keyboard = ui.page.keyboard;
      await ui.waitFor(hook('handle'));
      await keyboard.press('Tab');
      expect(await ui.focused()).toEqual({ hook: 'handle', outline: 'solid' });
      await keyboard.type('Alice');
      await keyboard.press('Enter');
      await ui.waitFor(`${hook('handle')}[aria-invalid="true"]`);
      expect(await ui.text('#handle-error')).toMatch(/lowercase/);
      expect((await ui.request({ type: 'status' })).identity).toBeUndefined();
      await ui.fill(hook('handle'), 'alice');
      await keyboard.press('Tab');
      expect((await ui.focused()).hook).toBe('directory-url');
      await ui.fill(hook('directory-url'), directory.url);
      await keyboard.press('Tab');
      expect(await ui.focused()).toEqual({ hook: 'create-identity', outline: 'solid' });
      await keyboard.press('Enter');
      alice.fingerprint = await ui.finishOnboarding('alice');
      expect(alice.fingerprint).toMatch(/^\d{30}$/);
      const shown = await alice.ui.text(`${hook('identity')} ${hook('fingerprint')}`);
      expect(shown.trim().split(/\s+/)).toHaveLength(6);

      const published = await directoryEntry(directory, 'alice');
      const status = await alice.ui.request({ type: 'status' });
      expect(published?.identityKey).toBe(status.identity?.identityKey);
      expect(published?.safetyNumberHalf).toBe(alice.fingerprint);
      expect(status.identity?.published).toBe(true);
      expect(status.hasSecurityPhrase).toBe(true);
      await screenshot(alice.ui.page, 'onboarding');
    }),
  );

  it(
    'keeps a contact added just before the service worker stops',
    timed('service worker stop', async () => {
      bob.fingerprint = await bob.ui.onboard('bob', directory.url);
      await alice.ui.addContact('bob');
      expect(await alice.ui.contactStatus('bob')).toBe('unverified');

      const { browser, extensionId } = alice.session;
      await stopServiceWorker(browser, extensionId);
      expect(isServiceWorkerRunning(browser, extensionId)).toBe(false);

      // The open page's next request wakes a fresh worker, which finds everything in IndexedDB.
      const number = await alice.ui.openVerify('bob');
      expect(number.trim()).toMatch(SAFETY_NUMBER_SHOWN);
      await alice.ui.reload();
      await alice.ui.go('#contacts');
      expect(await alice.ui.contactStatus('bob')).toBe('unverified');
      const status = await alice.ui.request({ type: 'status' });
      expect(status.identity?.fingerprint).toBe(alice.fingerprint);
    }),
  );

  it(
    'two profiles see the same safety number and mark each other verified',
    timed('verify each other', async () => {
      await bob.ui.addContact('alice');
      const seenByAlice = (await alice.ui.openVerify('bob')).trim();
      const seenByBob = (await bob.ui.openVerify('alice')).trim();
      expect(seenByAlice).toMatch(SAFETY_NUMBER_SHOWN);
      expect(onlyDigits(seenByAlice)).toBe(onlyDigits(seenByBob));
      // Each half shows up in the joint number.
      expect(onlyDigits(seenByAlice)).toContain(alice.fingerprint);
      expect(onlyDigits(seenByAlice)).toContain(bob.fingerprint);

      // Bob "scans" Alice's code; his own code is not hers and must not match.
      const aliceCode = await alice.ui.scannable();
      const bobCode = await bob.ui.scannable();
      await bob.ui.fill(hook('scanned-input'), bobCode);
      await bob.ui.click(hook('compare'));
      expect((await bob.ui.notice(SECTION.compare)).kind).toBe('error');
      await bob.ui.fill(hook('scanned-input'), aliceCode);
      await bob.ui.click(hook('compare'));
      await bob.ui.waitFor(`${SECTION.compare} ${hook('notice')}[data-veil-kind="success"]`);

      for (const [ui, other] of [
        [alice.ui, 'bob'],
        [bob.ui, 'alice'],
      ] as const) {
        await ui.click(hook('mark-verified'));
        await ui.success(SECTION.mark);
        await ui.waitFor(hook('unmark-verified'));
        await ui.go('#contacts');
        expect(await ui.contactStatus(other)).toBe('verified');
      }
      await screenshot(alice.ui.page, 'contacts');

      // The toolbar popup sums it up.
      const popup = await openExtensionPage(
        alice.session.browser,
        alice.session.extensionId,
        'popup.html',
      );
      try {
        const handle = await popup.waitForSelector(hook('popup-handle'));
        expect(await handle?.evaluate((el) => el.textContent)).toContain('alice');
        expect(await popup.$eval('body', (el) => el.textContent)).toContain('1 verified');
      } finally {
        await popup.close();
      }
      await alice.ui.openVerify('bob');
      await screenshot(alice.ui.page, 'verify');
    }),
  );

  it(
    'restores a backup into a fresh profile; a wrong passphrase or damaged file changes nothing',
    timed('backup and restore', async () => {
      const downloads = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-downloads-'));
      const fresh = await openProfile();
      try {
        const cdp = await alice.session.browser.target().createCDPSession();
        await cdp.send('Browser.setDownloadBehavior', {
          behavior: 'allow',
          downloadPath: downloads,
        });
        await alice.ui.go('#backup');
        await alice.ui.fill(hook('backup-passphrase'), 'correct horse battery');
        await alice.ui.fill(hook('backup-passphrase-confirm'), 'correct horse battery');
        await alice.ui.click(hook('backup-download'));
        await alice.ui.success(SECTION.exportBackup, 60_000);
        const backupFile = await downloaded(downloads);
        const damagedFile = path.join(downloads, 'damaged.veil');
        const text = fs.readFileSync(backupFile, 'utf8');
        const middle = Math.floor(text.length / 2);
        fs.writeFileSync(
          damagedFile,
          text.slice(0, middle) + (text[middle] === 'A' ? 'B' : 'A') + text.slice(middle + 1),
        );

        const { ui } = fresh;
        await ui.go('#backup');
        const restoreWith = async (file: string, passphrase: string) => {
          const input = await ui.waitFor(hook('restore-file'));
          await (input as unknown as { uploadFile(p: string): Promise<void> }).uploadFile(file);
          await ui.fill(hook('restore-passphrase'), passphrase);
          await ui.click(hook('restore'));
        };

        await restoreWith(backupFile, 'wrong horse battery');
        const wrong = await ui.notice(SECTION.restore, 60_000);
        expect(wrong).toEqual({ kind: 'error', text: expect.stringMatching(/passphrase/i) });
        expect((await ui.request({ type: 'status' })).identity).toBeUndefined();

        await restoreWith(damagedFile, 'correct horse battery');
        const damaged = await ui.notice(SECTION.restore, 60_000);
        expect(damaged).toEqual({ kind: 'error', text: expect.stringMatching(/damaged/i) });
        expect((await ui.request({ type: 'status' })).identity).toBeUndefined();

        await restoreWith(backupFile, 'correct horse battery');
        expect(await ui.contactStatus('bob')).toBe('verified');
        const restored = await ui.request({ type: 'status' });
        const original = await alice.ui.request({ type: 'status' });
        expect(restored.identity?.handle).toBe('alice');
        expect(restored.identity?.fingerprint).toBe(alice.fingerprint);
        expect(restored.identity?.identityKey).toBe(original.identity?.identityKey);
        expect(onlyDigits(await ui.openVerify('bob'))).toBe(
          onlyDigits(await alice.ui.openVerify('bob')),
        );
      } finally {
        await fresh.session.close();
        fs.rmSync(downloads, { recursive: true, force: true });
      }
    }),
  );

  it(
    'a re-created identity shows a blocking key-change warning and resets verification',
    timed('key change', async () => {
      // Bob deletes everything (also from the directory) and starts again under the same handle.
      await bob.ui.go('#settings');
      await bob.ui.click(hook('delete-everything'));
      await bob.ui.click(hook('confirm-delete'));
      await bob.ui.waitFor(hook('handle'), 30_000);
      expect(await directoryEntry(directory, 'bob')).toBeNull();
      const oldBob = bob.fingerprint;
      bob.fingerprint = await bob.ui.onboard('bob', directory.url);
      expect(bob.fingerprint).not.toBe(oldBob);

      // Alice looks bob up again: the new key is recorded as a change, not silently pinned.
      await alice.ui.go('#contacts');
      await alice.ui.fill(hook('contact-search'), 'bob');
      await alice.ui.click(hook('contact-search-submit'));
      await alice.ui.waitFor(`${hook('lookup-result')} .badge-key-changed`);
      expect(await alice.ui.contactStatus('bob')).toBe('key-changed');
      await alice.ui.waitFor(hook('key-change-alert'));

      const encrypt = () =>
        alice.ui.raw({
          type: 'encrypt',
          context: 'e2e/test',
          recipients: ['bob'],
          plaintext: 'hi',
        });
      const blocked = await encrypt();
      expect(blocked.ok ? 'sent' : blocked.error.code).toBe('untrusted-identity');

      // Blocking: the warning stays across a reload, and there is no way to mark bob verified.
      await alice.ui.go('#verify/bob');
      await alice.ui.reload();
      await alice.ui.waitFor(hook('key-change-warning'));
      expect(await alice.ui.has(hook('mark-verified'))).toBe(false);
      const warning = await alice.ui.text(hook('key-change-warning'));
      expect(warning).toMatch(/blocked|will not send/i);
      expect(onlyDigits(warning)).toContain(bob.fingerprint);
      const pending = await alice.ui.text(`${hook('key-change-warning')} ${hook('safety-number')}`);
      await screenshot(alice.ui.page, 'key-change');

      await alice.ui.click(hook('acknowledge-key-change'));
      await alice.ui.waitFor(hook('mark-verified'));
      const renewed = (await alice.ui.text(hook('safety-number'))).trim();
      expect(renewed).toMatch(SAFETY_NUMBER_SHOWN);
      // What the warning asked to compare is the number now in force.
      expect(onlyDigits(renewed)).toBe(onlyDigits(pending));
      await alice.ui.go('#contacts');
      expect(await alice.ui.contactStatus('bob')).toBe('unverified');

      await bob.ui.addContact('alice');
      expect(onlyDigits(await bob.ui.openVerify('alice'))).toBe(onlyDigits(renewed));
      const sent = await encrypt();
      expect(sent.ok ? 'sent' : sent.error.code).toBe('sent');
    }),
  );

  it(
    'a passphrase lock keeps everything shut until the right passphrase unlocks it',
    timed('lock and unlock', async () => {
      const { ui } = bob;
      const passphrase = 'a long lock passphrase';
      const encrypt = () =>
        ui.raw({ type: 'encrypt', context: 'e2e/lock', recipients: ['alice'], plaintext: 'hi' });
      await ui.go('#settings');
      await ui.fill(hook('lock-passphrase'), passphrase);
      await ui.fill(hook('lock-passphrase-confirm'), passphrase);
      await ui.click(hook('set-lock'));
      await ui.success(SECTION.lock, 60_000);
      await ui.click(hook('lock-now'));
      await ui.waitFor(hook('unlock-passphrase'));
      const locked = await encrypt();
      expect(locked.ok ? 'sent' : locked.error.code).toBe('locked');

      await ui.fill(hook('unlock-passphrase'), 'not the passphrase');
      await ui.click(hook('unlock'));
      expect((await ui.notice('main', 60_000)).kind).toBe('error');
      expect((await ui.request({ type: 'status' })).locked).toBe(true);

      await ui.fill(hook('unlock-passphrase'), passphrase);
      await ui.click(hook('unlock'));
      await ui.waitFor(hook('lock-now'), 60_000);
      const opened = await encrypt();
      expect(opened.ok ? 'sent' : opened.error.code).toBe('sent');
    }),
  );
});

if (!firefoxPath) console.warn('[e2e] skipping Firefox identity flows: no Firefox ESR found');

describe.skipIf(!firefoxPath)('identity flows in Firefox ESR', () => {
  const extensionDir = inject('firefoxExtensionDir');
  let directory: DirectoryServer;
  let session: FirefoxSession;

  beforeAll(async () => {
    directory = await startDirectory();
    session = await launchFirefox({ extensionDir });
  });

  afterAll(async () => {
    await session?.close();
    await directory?.stop();
  });

  it(
    'onboarding creates an identity and publishes it to the directory',
    timed('firefox onboarding', async () => {
      const page = await openFirefoxExtensionPage(session.browser, 'options.html');
      const ui = new OptionsPage(page, session.origin);
      const fingerprint = await ui.onboard('carol', directory.url);
      const published = await directoryEntry(directory, 'carol');
      expect(published?.safetyNumberHalf).toBe(fingerprint);
      expect(published?.identityKey).toBe(
        (await ui.request({ type: 'status' })).identity?.identityKey,
      );
    }),
  );
});
