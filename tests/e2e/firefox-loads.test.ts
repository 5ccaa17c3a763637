// Proves the built Firefox package installs in Firefox ESR and its background script runs:
// an extension page at the fixed moz-extension:// origin gets the background's ping answer.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser as ExtensionApi } from 'wxt/browser';
import {
  FIREFOX_EXTENSION_ID,
  firefoxPath,
  launchFirefox,
  openFirefoxExtensionPage,
  type FirefoxSession,
} from './harness';

type Ping = { ok: boolean; version: string };

const extensionDir = inject('firefoxExtensionDir');
const manifest = JSON.parse(fs.readFileSync(path.join(extensionDir, 'manifest.json'), 'utf8')) as {
  version: string;
};

// Firefox extension pages see the WebExtension API as `browser`; only used inside page.evaluate.
declare const browser: typeof ExtensionApi;

if (!firefoxPath) console.warn('[e2e] skipping Firefox tests: no Firefox ESR binary found');

describe.skipIf(!firefoxPath)('extension in Firefox ESR', () => {
  let session: FirefoxSession;

  beforeAll(async () => {
    const started = Date.now();
    session = await launchFirefox({ extensionDir });
    console.log(`[e2e] Firefox launched with extension in ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    await session?.close();
  });

  it('installs under its gecko id', () => {
    expect(session.extensionId).toBe(FIREFOX_EXTENSION_ID);
  });

  it('runs the background script, which answers a ping from an extension page', async () => {
    const page = await openFirefoxExtensionPage(session.browser, 'manifest.json');
    try {
      const seen = await page.evaluate(() => ({
        origin: location.origin,
        runtimeId: browser.runtime.id,
      }));
      expect(`${seen.origin}/`).toBe(session.origin);
      expect(seen.runtimeId).toBe(FIREFOX_EXTENSION_ID);

      const reply = await page.evaluate(() =>
        browser.runtime.sendMessage<unknown, Ping>({ type: 'ping' }),
      );
      expect(reply).toEqual({ ok: true, version: manifest.version });
    } finally {
      await page.close();
    }
  });
});
