// Browser harness for end-to-end tests and benchmarks: launches the system Chromium / Firefox ESR
// with a built Veil extension in a throw-away profile. Touches only temp dirs it creates itself.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, {
  type Browser,
  type Frame,
  type Page,
  type Target,
  type WebWorker,
} from 'puppeteer-core';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Where `wxt build` puts each package; global-setup exports the same paths as env vars. */
export const CHROME_EXTENSION_DIR =
  process.env.VEIL_CHROME_EXTENSION_DIR ?? path.join(repoRoot, '.output/chrome-mv3');
export const FIREFOX_EXTENSION_DIR =
  process.env.VEIL_FIREFOX_EXTENSION_DIR ?? path.join(repoRoot, '.output/firefox-mv3');

/** The Firefox add-on id (wxt.config.ts `browser_specific_settings.gecko.id`). */
export const FIREFOX_EXTENSION_ID = 'veil@veil.invalid';
/** Fixed internal UUID so the extension's origin is known: `moz-extension://<uuid>/`. */
export const FIREFOX_EXTENSION_UUID = '5e1f0c3a-7d2b-4a61-9c8e-0b4d6f2a9e17';

/** Flags Chromium needs as root in a container; see DESIGN.md §9. */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // CI containers often have a 64 MB /dev/shm, too small for the renderer.
  '--disable-dev-shm-usage',
];

/** A CDP call that hangs fails after this long instead of running into the test timeout. */
const PROTOCOL_TIMEOUT_MS = 60_000;

function executable(envName: string, fallback: string): string | undefined {
  const candidate = process.env[envName] ?? fallback;
  return fs.existsSync(candidate) ? candidate : undefined;
}

/** Path of the Chromium binary (`VEIL_CHROMIUM` overrides), or undefined when not installed. */
export const chromiumPath = executable('VEIL_CHROMIUM', '/usr/bin/chromium');
/** Path of the Firefox binary (`VEIL_FIREFOX` overrides), or undefined when not installed. */
export const firefoxPath = executable('VEIL_FIREFOX', '/usr/bin/firefox-esr');

function assertBuilt(extensionDir: string): void {
  if (!fs.existsSync(path.join(extensionDir, 'manifest.json'))) {
    throw new Error(`No built extension at ${extensionDir}: run \`npm run build\` first.`);
  }
}

export interface ChromiumSession {
  browser: Browser;
  /** The 32-letter id Chromium gave the unpacked extension. */
  extensionId: string;
  /** `chrome-extension://<id>/` */
  origin: string;
  /** Closes the browser and deletes the profile; safe to call twice. */
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** Built extension to install; defaults to the Chrome (or Firefox) build. */
  extensionDir?: string;
  /** Extra browser command-line arguments. */
  args?: string[];
}

/** Launches headless Chromium with the extension installed. Always `close()` it in `finally`. */
export async function launchChromium(options: LaunchOptions = {}): Promise<ChromiumSession> {
  if (!chromiumPath) throw new Error('Chromium not found (set VEIL_CHROMIUM or install chromium).');
  const extensionDir = path.resolve(options.extensionDir ?? CHROME_EXTENSION_DIR);
  assertBuilt(extensionDir);
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-chromium-'));
  let browser: Browser | undefined;
  const close = async () => {
    try {
      await browser?.close();
    } finally {
      browser = undefined;
      fs.rmSync(profileDir, { recursive: true, force: true });
    }
  };
  try {
    browser = await puppeteer.launch({
      executablePath: chromiumPath,
      headless: true,
      pipe: true,
      enableExtensions: true,
      protocolTimeout: PROTOCOL_TIMEOUT_MS,
      args: [...CHROMIUM_FLAGS, `--user-data-dir=${profileDir}`, ...(options.args ?? [])],
    });
    const extensionId = await browser.installExtension(extensionDir);
    return { browser, extensionId, origin: `chrome-extension://${extensionId}/`, close };
  } catch (error) {
    await close();
    throw error;
  }
}

function isServiceWorkerOf(extensionId: string) {
  return (target: Target) =>
    target.type() === 'service_worker' &&
    target.url().startsWith(`chrome-extension://${extensionId}/`);
}

/**
 * The extension's running background service worker. Waits for it to start (a stopped worker
 * starts again on the next event, e.g. a message from an extension page).
 */
export async function getServiceWorker(
  browser: Browser,
  extensionId: string,
  { timeout = 30_000 }: { timeout?: number } = {},
): Promise<WebWorker> {
  const target = await browser.waitForTarget(isServiceWorkerOf(extensionId), { timeout });
  const worker = await target.worker();
  if (!worker) throw new Error(`Service worker target ${target.url()} has no worker`);
  return worker;
}

/**
 * Stops the extension's service worker the way Chromium does when it idles out (the CDP target
 * is closed, its global state is gone) and resolves once the browser reports it gone.
 */
export async function stopServiceWorker(
  browser: Browser,
  extensionId: string,
  { timeout = 30_000 }: { timeout?: number } = {},
): Promise<void> {
  const target = browser.targets().find(isServiceWorkerOf(extensionId));
  if (!target) return;
  let onDestroyed: (destroyed: Target) => void = () => undefined;
  let timer: NodeJS.Timeout | undefined;
  const gone = new Promise<void>((resolve, reject) => {
    onDestroyed = (destroyed) => {
      if (destroyed === target) resolve();
    };
    browser.on('targetdestroyed', onDestroyed);
    timer = setTimeout(
      () => reject(new Error(`service worker still running ${timeout} ms after close`)),
      timeout,
    );
  });
  try {
    const worker = await target.worker();
    await worker?.close();
    await gone;
  } finally {
    clearTimeout(timer);
    browser.off('targetdestroyed', onDestroyed);
  }
}

/** Whether the extension's service worker is currently running (has a target). */
export function isServiceWorkerRunning(browser: Browser, extensionId: string): boolean {
  return browser.targets().some(isServiceWorkerOf(extensionId));
}

/**
 * Opens an extension page (`popup.html`, `options.html`, or any packaged file: `manifest.json`
 * is always there and is an extension-origin document with `chrome.runtime`).
 */
export async function openExtensionPage(
  browser: Browser,
  extensionId: string,
  pagePath: string,
): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`chrome-extension://${extensionId}/${pagePath.replace(/^\//, '')}`);
  return page;
}

export interface FirefoxSession {
  browser: Browser;
  /** The gecko add-on id. */
  extensionId: string;
  /** `moz-extension://<FIREFOX_EXTENSION_UUID>/` */
  origin: string;
  /** Closes the browser and deletes the profile; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Launches headless Firefox ESR over WebDriver BiDi with the extension installed as a temporary
 * add-on under the fixed UUID. Always `close()` it in `finally`.
 */
export async function launchFirefox(options: LaunchOptions = {}): Promise<FirefoxSession> {
  if (!firefoxPath) throw new Error('Firefox not found (set VEIL_FIREFOX or install firefox-esr).');
  const extensionDir = path.resolve(options.extensionDir ?? FIREFOX_EXTENSION_DIR);
  assertBuilt(extensionDir);
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-firefox-'));
  let browser: Browser | undefined;
  const close = async () => {
    try {
      await browser?.close();
    } finally {
      browser = undefined;
      fs.rmSync(profileDir, { recursive: true, force: true });
    }
  };
  try {
    browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: firefoxPath,
      headless: true,
      userDataDir: profileDir,
      protocolTimeout: PROTOCOL_TIMEOUT_MS,
      args: ['--remote-allow-system-access', ...(options.args ?? [])],
      extraPrefsFirefox: {
        'extensions.webextensions.uuids': JSON.stringify({
          [FIREFOX_EXTENSION_ID]: FIREFOX_EXTENSION_UUID,
        }),
      },
    });
    const extensionId = await browser.installExtension(extensionDir);
    return { browser, extensionId, origin: `moz-extension://${FIREFOX_EXTENSION_UUID}/`, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Opens a page of the Firefox extension. `goto` of a moz-extension URL does not resolve over
 * BiDi, so this starts the navigation and waits until the document is there instead.
 */
export async function openFirefoxExtensionPage(
  browser: Browser,
  pagePath: string,
  { timeout = 30_000 }: { timeout?: number } = {},
): Promise<Page> {
  const url = `moz-extension://${FIREFOX_EXTENSION_UUID}/${pagePath.replace(/^\//, '')}`;
  const page = await browser.newPage();
  // The navigation promise is dropped on purpose; its late rejection at close is expected.
  page.goto(url).catch(() => undefined);
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      await page.waitForFunction(
        (expected: string) => location.href === expected && document.readyState === 'complete',
        { timeout: Math.max(1, deadline - Date.now()), polling: 100 },
        url,
      );
      return page;
    } catch (e) {
      // Firefox's BiDi can fail one evaluation while the document is being swapped
      // ("right-hand side of 'in' should be an object"): ask again until the deadline.
      const said = e instanceof Error ? `${e.message} ${String(e.cause)}` : '';
      if (Date.now() >= deadline || !/Protocol error/.test(said)) throw e;
    }
  }
}

/** The frame of the iframe `selector` matches, once it is in the page. */
export async function frameOf(page: Page, selector: string, timeout = 30_000): Promise<Frame> {
  const el = await page.waitForSelector(selector, { timeout });
  const frame = await el!.contentFrame();
  if (!frame) throw new Error(`${selector} has no frame`);
  return frame;
}

/** `work` as a test body that logs how long it took (the e2e figures in CI's log). */
export function timed<T>(label: string, work: () => Promise<T>): () => Promise<T> {
  return async () => {
    const started = Date.now();
    try {
      return await work();
    } finally {
      console.log(`[e2e] ${label}: ${Date.now() - started} ms`);
    }
  };
}
