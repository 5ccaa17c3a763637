// Proves the built Chrome package loads in real Chromium: the background service worker starts,
// answers an extension page, and comes back after Chromium stops it.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser as ExtensionApi } from 'wxt/browser';
import {
  chromiumPath,
  getServiceWorker,
  isServiceWorkerRunning,
  launchChromium,
  openExtensionPage,
  stopServiceWorker,
  type ChromiumSession,
} from './harness';

type Ping = { ok: boolean; version: string };

const extensionDir = inject('chromeExtensionDir');
const manifest = JSON.parse(fs.readFileSync(path.join(extensionDir, 'manifest.json'), 'utf8')) as {
  version: string;
};
type BackgroundGlobals = { __veilBackgroundReady?: boolean; __veilTestMarker?: string };

// Extension pages see the WebExtension API as `chrome`; only used inside page.evaluate.
declare const chrome: typeof ExtensionApi;

if (!chromiumPath) console.warn('[e2e] skipping Chromium tests: no Chromium binary found');

describe.skipIf(!chromiumPath)('extension in Chromium', () => {
  let session: ChromiumSession;

  beforeAll(async () => {
    const started = Date.now();
    session = await launchChromium({ extensionDir });
    console.log(`[e2e] Chromium launched with extension in ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    await session?.close();
  });

  it('starts the background service worker', async () => {
    const worker = await getServiceWorker(session.browser, session.extensionId);
    expect(worker.url()).toBe(`${session.origin}background.js`);
    // The worker's target can be attached before its script has finished running.
    await expect
      .poll(() => worker.evaluate(() => (globalThis as BackgroundGlobals).__veilBackgroundReady), {
        timeout: 10_000,
      })
      .toBe(true);
  });

  it('answers a ping from an extension page', async () => {
    const page = await openExtensionPage(session.browser, session.extensionId, 'manifest.json');
    try {
      const reply = await page.evaluate(() =>
        chrome.runtime.sendMessage<unknown, Ping>({ type: 'ping' }),
      );
      expect(reply).toEqual({ ok: true, version: manifest.version });
    } finally {
      await page.close();
    }
  });

  it('restarts a stopped service worker on the next message', async () => {
    const { browser, extensionId } = session;
    const before = await getServiceWorker(browser, extensionId);
    // A marker that lives only as long as this worker instance's global scope.
    await before.evaluate(() => {
      (globalThis as BackgroundGlobals).__veilTestMarker = 'first instance';
    });

    await stopServiceWorker(browser, extensionId);
    expect(isServiceWorkerRunning(browser, extensionId)).toBe(false);

    const page = await openExtensionPage(browser, extensionId, 'manifest.json');
    try {
      const reply = await page.evaluate(() =>
        chrome.runtime.sendMessage<unknown, Ping>({ type: 'ping' }),
      );
      expect(reply.ok).toBe(true);
    } finally {
      await page.close();
    }

    const after = await getServiceWorker(browser, extensionId);
    const state = await after.evaluate(() => {
      const scope = globalThis as BackgroundGlobals;
      return { ready: scope.__veilBackgroundReady, marker: scope.__veilTestMarker ?? null };
    });
    expect(state).toEqual({ ready: true, marker: null });
  });
});
