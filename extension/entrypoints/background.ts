// Background service worker (Chrome MV3) / background script (Firefox): owns keys and crypto.
import { defineBackground } from 'wxt/utils/define-background';

export default defineBackground(() => {
  // Marks the worker as started so the browser harness can prove it ran.
  (globalThis as { __veilBackgroundReady?: boolean }).__veilBackgroundReady = true;
});
