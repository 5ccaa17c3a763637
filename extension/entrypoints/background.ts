// Background service worker (Chrome MV3) / background script (Firefox): owns keys and crypto.
// For now it only proves it runs: a start marker and a `ping` answer for the browser tests.
import { browser } from 'wxt/browser';
import { defineBackground } from 'wxt/utils/define-background';

export default defineBackground(() => {
  // Marks the worker as started so the browser harness can prove it ran.
  (globalThis as { __veilBackgroundReady?: boolean }).__veilBackgroundReady = true;

  browser.runtime.onMessage.addListener((message: unknown, sender, sendResponse) => {
    // Only this extension's own pages and scripts may talk to the background.
    if (sender.id !== browser.runtime.id) return false;
    if ((message as { type?: unknown } | null)?.type !== 'ping') return false;
    sendResponse({ ok: true, version: browser.runtime.getManifest().version });
    return false;
  });
});
