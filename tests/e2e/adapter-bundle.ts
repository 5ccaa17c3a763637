// Runs site-adapters/ inside a real page for browser tests: bundles the registry with esbuild into
// one script that sets `globalThis.veilAdapters`, and launches a plain headless Chromium (no
// extension) for pages that only need the adapters. Writes nothing to disk.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { CHROMIUM_FLAGS, chromiumPath } from './harness';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

type Registry = typeof import('../../site-adapters/registry');

declare global {
  /** Set in the page by the adapter bundle. */
  var veilAdapters: Registry;
}

let bundled: Promise<string> | undefined;

/** The adapter registry as one classic script (an IIFE), built once per test file. */
export function adapterBundle(): Promise<string> {
  bundled ??= build({
    stdin: {
      contents: `import * as registry from './site-adapters/registry';
        globalThis.veilAdapters = registry;`,
      resolveDir: repoRoot,
      sourcefile: 'veil-adapters-entry.ts',
      loader: 'ts',
    },
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
  }).then((out) => out.outputFiles[0]!.text);
  return bundled;
}

/**
 * Puts the adapters into the page's main world. Evaluated through the DevTools protocol, so a
 * page's Content-Security-Policy (The Lounge has one) does not block it. Again after navigation.
 */
export async function injectAdapters(page: Page): Promise<void> {
  const code = await adapterBundle();
  await page.evaluate(code);
}

/** Headless Chromium without the extension, its pages never throttled as background tabs. */
export async function launchPlainChromium(): Promise<Browser> {
  if (!chromiumPath) throw new Error('Chromium not found (set VEIL_CHROMIUM or install chromium).');
  return puppeteer.launch({
    executablePath: chromiumPath,
    headless: true,
    pipe: true,
    protocolTimeout: 60_000,
    args: [
      ...CHROMIUM_FLAGS,
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
    ],
  });
}
