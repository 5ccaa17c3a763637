// Reading what Veil's reader frames in a chat page show, for browser tests.
import type { Page } from 'puppeteer-core';
import { hook } from './options-page';

/**
 * Whether a reader frame in `page` comes to show exactly `text` within `timeoutMs`; frames are
 * looked up again each round (a frame handle taken while the host re-renders can go stale).
 */
export async function readerShowing(
  page: Page,
  text: string,
  timeoutMs = 60_000,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const handle of await page.$$(`${hook('message')} iframe`)) {
      const frame = await handle.contentFrame().catch(() => null);
      const shown = await frame
        ?.$eval(hook('plaintext'), (el) => el.textContent ?? '')
        .catch(() => null);
      if (shown === text) return true;
    }
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 250));
  }
}
