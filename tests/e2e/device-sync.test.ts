// Device sync end to end (issue 14): alice on two Chromium profiles linked with one code, bob on a
// third. What alice does on her first browser (verify bob, turn Veil on for a site) shows on her
// second through the directory's sealed sync blob, with no further action there than opening
// Veil's options. The directory runs on 127.0.0.1 and is stopped by PID in afterAll.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ContactView, Settings } from '../../extension/messaging/messages';
import { startDirectory, type DirectoryServer } from './directory-server';
import {
  chromiumPath,
  launchChromium,
  openExtensionPage,
  timed,
  type ChromiumSession,
} from './harness';
import { hook, OptionsPage } from './options-page';

const SITE = 'chat.example.com';
const joined = async (ui: OptionsPage) => {
  const answer = await ui.raw({ type: 'joinStatus' });
  return answer.ok && answer.value.state === 'joined';
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!chromiumPath)('device sync between two linked Chromium profiles', () => {
  let directory: DirectoryServer;
  const sessions: ChromiumSession[] = [];

  async function open(): Promise<OptionsPage> {
    const session = await launchChromium({ extensionDir: inject('chromeExtensionDir') });
    sessions.push(session);
    const page = await openExtensionPage(session.browser, session.extensionId, 'options.html');
    return new OptionsPage(page, session.origin);
  }

  beforeAll(async () => {
    directory = await startDirectory();
  });
  afterAll(async () => {
    for (const s of sessions) await s.close().catch(() => undefined);
    await directory?.stop();
  });

  it(
    'a contact verified and a site enabled on one browser show on the other',
    timed('device sync', async () => {
      const [alice1, alice2, bob] = await Promise.all([open(), open(), open()]);
      await Promise.all([
        alice1.onboard('alice', directory.url),
        bob.onboard('bob', directory.url),
        alice2.waitFor(hook('join-code')),
      ]);

      // Link alice2 with one code, as a person does (the fingerprints are compared in
      // tests/e2e/linked-devices.test.ts; here they are simply confirmed).
      await alice1.go('#settings');
      await alice1.click(hook('link-device'));
      await alice1.page.waitForFunction(
        (sel: string) =>
          (document.querySelector(sel) as HTMLTextAreaElement | null)?.value.startsWith(
            'veil-link:',
          ),
        { timeout: 20_000 },
        hook('link-code'),
      );
      const code = await alice1.page.$eval(
        hook('link-code'),
        (el) => (el as HTMLTextAreaElement).value,
      );
      await alice2.fill(hook('join-code'), code);
      await alice2.click(hook('join-button'));
      await alice2.waitFor(hook('join-fingerprint'));
      await alice1.waitFor(hook('link-confirm'), 40_000);
      await alice1.click(hook('confirm-link'));
      await alice1.waitFor(hook('device-linked'), 40_000);
      const joinBy = Date.now() + 40_000;
      while (!(await joined(alice2))) {
        if (Date.now() > joinBy) throw new Error('alice2 did not join');
        await sleep(1_000);
      }

      // On alice1 only: add and verify bob, turn Veil on for a site.
      await alice1.addContact('bob');
      await alice1.openVerify('bob');
      await alice1.click(hook('mark-verified'));
      await alice1.waitFor(hook('unmark-verified'));
      await alice1.enableSite(SITE);
      const editedAt = Date.now();

      // alice2 opens Veil's options now and then (each opening pulls, at most every 10 s).
      let bobThere: ContactView | undefined;
      let sites: string[] = [];
      const deadline = Date.now() + 40_000;
      while (Date.now() < deadline) {
        await alice2.request({ type: 'status' });
        bobThere = (await alice2.request({ type: 'listContacts' })).contacts.find(
          (c) => c.handle === 'bob',
        );
        sites = ((await alice2.request({ type: 'getSettings' })) as Settings).enabledSites;
        if (bobThere?.status === 'verified' && sites.includes(SITE)) break;
        await sleep(1_000);
      }
      console.log(`[e2e] alice2 had alice1's edits ${Date.now() - editedAt} ms after them`);
      expect(bobThere?.status).toBe('verified');
      expect(sites).toContain(SITE);
      // And as the person sees it on alice2's screens.
      await alice2.reload();
      await alice2.go('#contacts');
      expect(await alice2.contactStatus('bob')).toBe('verified');
      await alice2.go('#settings');
      await alice2.waitFor(hook('site-list'));
      expect(await alice2.text(hook('site-list'))).toContain(SITE);
    }),
    90_000,
  );
});
