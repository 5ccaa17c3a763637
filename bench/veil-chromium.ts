// Veil's suite in headless Chromium, the extension's real runtime: bench/veil-suite.ts and
// the Veil API are bundled with esbuild (platform browser, ESM), served from a throw-away
// 127.0.0.1 server with COOP/COEP headers (cross-origin isolation gives performance.now() 5 µs
// resolution instead of 100 µs, which the per-call decrypt sums need), and run through
// page.evaluate once per provider. Prints a JSON array of LibraryResult.
// Run alone: `npx tsx bench/veil-chromium.ts`.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import puppeteer, { type Browser } from 'puppeteer-core';
import type { BenchOptions, LibraryResult } from './common';
import { ROOT, isMain, optionsFromEnv, printResult } from './node-env';
import { WEBCRYPTO_FILE } from './veil-node';
import type { VeilSuiteResult } from './veil-suite';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // A benchmark page must not be throttled as a background tab.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

/** The page bundle: the suite and both providers, on globalThis.veilBench. */
async function bundle(): Promise<string> {
  const imp = (p: string) => JSON.stringify(resolve(ROOT, p));
  // BENCH_VEIL_API: a stand-in module exporting Veil, for testing this harness only.
  const override = process.env.BENCH_VEIL_API;
  const contents = `
    import { runVeilSuite } from ${imp('bench/veil-suite.ts')};
    import { nobleProvider } from ${imp('extension/protocol/crypto/noble.ts')};
    import { createWebCryptoProvider, webCryptoSupported, bestProvider } from ${imp(WEBCRYPTO_FILE)};
    ${
      override
        ? `import { Veil } from ${imp(override)};
           import { MemoryStore } from ${imp('extension/protocol/store.ts')};
           const api = { Veil, MemoryStore };`
        : 'const api = undefined;'
    }
    const providers = { noble: async () => nobleProvider,
      webcrypto: async () => ((await webCryptoSupported()) ? createWebCryptoProvider() : undefined) };
    globalThis.veilBench = {
      async info() {
        return { webcrypto: await webCryptoSupported(), best: (await bestProvider()).name };
      },
      async run(name, opts) {
        const crypto = await providers[name]();
        if (!crypto) throw new Error('provider ' + name + ' unavailable in this browser');
        return runVeilSuite({ ...opts, now: () => performance.now(), api, crypto });
      },
    };
    globalThis.veilBenchReady = true;
  `;
  const out = await build({
    stdin: { contents, resolveDir: ROOT, sourcefile: 'veil-bench-entry.js', loader: 'js' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>Veil bench</title>
<script type="module" src="/bench.js"></script>`;

function serve(js: string): Promise<Server> {
  const server = createServer((req, res) => {
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    };
    if (req.url === '/') res.writeHead(200, { ...headers, 'Content-Type': 'text/html' }).end(PAGE);
    else if (req.url === '/bench.js')
      res.writeHead(200, { ...headers, 'Content-Type': 'text/javascript' }).end(js);
    else res.writeHead(req.url === '/favicon.ico' ? 204 : 404, headers).end();
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

export async function runVeilChromium(opts: BenchOptions = optionsFromEnv()): Promise<{
  chromium?: string;
  results: LibraryResult[];
}> {
  const columns = [
    { id: 'veil-chromium-webcrypto', label: 'Veil (Chromium, WebCrypto)', provider: 'webcrypto' },
    { id: 'veil-chromium-noble', label: 'Veil (Chromium, noble)', provider: 'noble' },
  ];
  const results: LibraryResult[] = columns.map((c) => ({
    id: c.id,
    label: c.label,
    runtime: 'Chromium',
    versions: {},
    notes: [],
  }));
  const skipAll = (why: string) => {
    for (const r of results) r.skipped = why;
    return { results };
  };
  if (!existsSync(CHROMIUM)) return skipAll(`no Chromium at ${CHROMIUM}`);

  let js: string;
  try {
    js = await bundle();
  } catch (e) {
    return skipAll(`bundling failed: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
  }
  const server = await serve(js);
  const profile = mkdtempSync(join(tmpdir(), 'veil-bench-chromium-'));
  let browser: Browser | undefined;
  const cleanup = () => {
    // On a timeout (SIGTERM from scripts/bench.mjs): no stray Chromium, no profile left behind.
    browser?.process()?.kill('SIGKILL');
    rmSync(profile, { recursive: true, force: true });
    process.exit(143);
  };
  process.once('SIGTERM', cleanup);
  try {
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      pipe: true,
      protocolTimeout: 900_000,
      args: [...CHROMIUM_ARGS, `--user-data-dir=${profile}`],
    });
    const version = await browser.version();
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    const { port } = server.address() as AddressInfo;
    await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'load' });
    await page
      .waitForFunction('globalThis.veilBenchReady === true', { timeout: 30_000 })
      .catch(() => {
        throw new Error(`bench page did not load: ${pageErrors.join('; ') || 'timeout'}`);
      });
    const env = await page.evaluate(async () => {
      const g = globalThis as unknown as {
        veilBench: { info(): Promise<{ webcrypto: boolean; best: string }> };
      };
      return { isolated: globalThis.crossOriginIsolated, ...(await g.veilBench.info()) };
    });
    const { now: _now, ...pageOpts } = opts;
    for (const [i, c] of columns.entries()) {
      const r = results[i]!;
      r.runtime = version;
      r.versions = { chromium: version };
      if (c.provider === 'webcrypto' && !env.webcrypto) {
        r.skipped = 'this Chromium’s WebCrypto lacks X25519/Ed25519 (or failed the probe)';
        continue;
      }
      if (!env.isolated)
        r.notes.push('page not cross-origin isolated: performance.now() is coarse (100 µs)');
      if (c.provider === 'webcrypto') r.notes.push(`bestProvider() picks ${env.best} here.`);
      if (process.env.BENCH_VEIL_API) r.notes.push('STAND-IN API from BENCH_VEIL_API, not Veil');
      console.error(`[bench] ${c.label} …`);
      try {
        const s = (await page.evaluate(
          (name, o) =>
            (
              globalThis as unknown as {
                veilBench: { run(n: string, o: unknown): Promise<unknown> };
              }
            ).veilBench.run(name, o),
          c.provider,
          pageOpts,
        )) as VeilSuiteResult;
        Object.assign(r, {
          pingPong: s.pingPong,
          decryptHistory: s.decryptHistory,
          groupDecrypt: s.groupDecrypt,
          groupDecryptEach: s.groupDecryptEach,
          size: s.size,
          setup: s.setup,
          runs: s.runs,
        });
        r.notes.push(...s.notes, `provider: ${s.provider}`);
      } catch (e) {
        r.error = e instanceof Error ? e.message.split('\n')[0] : String(e);
        console.error(e);
      }
    }
    if (pageErrors.length) console.error(`[bench] page errors: ${pageErrors.join('; ')}`);
    return { chromium: version, results };
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    for (const r of results) if (!r.pingPong && !r.skipped) r.error ??= why;
    return { results };
  } finally {
    process.off('SIGTERM', cleanup);
    await browser?.close().catch(() => undefined);
    await new Promise((ok) => server.close(ok));
    rmSync(profile, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) printResult(await runVeilChromium());
