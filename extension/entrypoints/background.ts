// Background service worker (Chrome MV3) / background script (Firefox): owns keys and crypto.
// Thin wiring only: every runtime message goes to the router (background/router.ts), which
// classifies the browser-supplied sender and answers from one handler table; a closed tab's
// page tokens are dropped (background/page-tokens.ts); the directory's log is watched for our
// handle at start and hourly (background/log-schedule.ts); the archive's retention runs at start
// and daily (background/archive/schedule.ts); the content script is registered
// for the enabled sites only (background/site-scripts.ts).
import { browser } from 'wxt/browser';
import { defineBackground } from 'wxt/utils/define-background';
import { startArchiveRetention } from '../background/archive/schedule';
import { createHandlers } from '../background/handlers';
import { startLogWatch } from '../background/log-schedule';
import { startDeviceSync } from '../background/sync-schedule';
import { forgetClosedTab } from '../background/page-tokens';
import { createRouter } from '../background/router';
import { browserSessionArea, getService, runningService } from '../background/veil-service';

export default defineBackground(() => {
  // Marks the worker as started so the browser harness can prove it ran.
  (globalThis as { __veilBackgroundReady?: boolean }).__veilBackgroundReady = true;

  const version = browser.runtime.getManifest().version;
  // WXT types getURL per generated public path; the sender check only asks for the root.
  const rt = browser.runtime as unknown as { id: string; getURL(path: string): string };
  const runtime = { id: rt.id, getURL: (path: string) => rt.getURL(path) };
  const route = createRouter(createHandlers(getService, version), runtime, (name, type) =>
    // The error's name only: its message could quote anything.
    console.error(`veil: internal error (${name}) handling ${type}`),
  );

  // Registered synchronously, so a worker woken by a message finds the listener. Answering
  // through sendResponse (and returning true) works in both Chrome and Firefox.
  browser.runtime.onMessage.addListener((message: unknown, sender, sendResponse) => {
    void route(message, sender).then(sendResponse);
    return true;
  });

  // A closed tab's reader and composer tokens go with it (tabs.onRemoved needs no permission).
  browser.tabs.onRemoved.addListener(
    forgetClosedTab(browserSessionArea(), async () => (await getService()).pages),
  );
  // … and what it reported of its page, kept in memory only (no service started for it).
  browser.tabs.onRemoved.addListener((tabId) => {
    void runningService()
      ?.then((svc) => svc.forgetTab(tabId))
      .catch(() => undefined);
  });

  // The content script runs on the sites the user enabled, and only there: registrations are
  // put in step with the settings at every start (a restore or an update may have changed
  // them while no worker ran).
  void getService()
    .then((svc) => svc.syncSites())
    .catch((e: unknown) =>
      console.error(
        `veil: site scripts not registered (${e instanceof Error ? e.name : 'unknown'})`,
      ),
    );

  // The own-handle log monitor and gossiped heads left to check (alarms needs the permission).
  startLogWatch(getService, browser.alarms, (e) =>
    console.error(`veil: log watch failed (${e instanceof Error ? e.name : 'unknown'})`),
  );

  // Sync with this account's other browsers: at start, every 5 minutes, after edits.
  startDeviceSync(getService, browser.alarms, (e) =>
    console.error(`veil: device sync failed (${e instanceof Error ? e.name : 'unknown'})`),
  );

  // The archive's retention rules, at start and daily.
  startArchiveRetention(getService, browser.alarms, (e) =>
    console.error(`veil: archive retention failed (${e instanceof Error ? e.name : 'unknown'})`),
  );
});
