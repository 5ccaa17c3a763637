// Issue 15: the message archive in headless Chromium (`npm run bench` runs it as an extra; alone:
// `npx tsx bench/archive-bench.ts`). The real archive code (bench/archive-suite.ts, bundled
// with esbuild) over the page's IndexedDB, sealed under a data key: 100,000 synthetic messages
// (bench/search-libs.ts's corpus and queries), query p95 by kind, one add including persistence,
// the cold start after a page reload (a fresh heap, as a restarted worker), sizes at rest, and a
// linear scan of the same records in the same run. ARCHIVE_MESSAGES=n for a smaller archive.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { ROOT } from './node-env';
import { makeCorpus, makeQueries } from './search-libs';
import { CHROMIUM, CHROMIUM_ARGS } from './veil-chromium';

async function bundle(): Promise<string> {
  const out = await build({
    stdin: {
      contents: `import { archiveBench } from ${JSON.stringify(resolve(ROOT, 'bench/archive-suite.ts'))};
        globalThis.archiveBench = archiveBench; globalThis.benchReady = true;`,
      resolveDir: ROOT,
      sourcefile: 'archive-bench-entry.js',
      loader: 'js',
    },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
    alias: { 'wxt/browser': resolve(ROOT, 'bench/archive-browser-stub.ts') },
  });
  return out.outputFiles[0]!.text;
}

function serve(js: string, corpus: string): Promise<Server> {
  const headers = {
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  };
  const page =
    '<!doctype html><meta charset="utf-8"><script type="module" src="/bench.js"></script>';
  const server = createServer((req, res) => {
    if (req.url === '/') res.writeHead(200, { ...headers, 'Content-Type': 'text/html' }).end(page);
    else if (req.url === '/bench.js')
      res.writeHead(200, { ...headers, 'Content-Type': 'text/javascript' }).end(js);
    else if (req.url === '/corpus.json')
      res.writeHead(200, { ...headers, 'Content-Type': 'application/json' }).end(corpus);
    else res.writeHead(404, headers).end();
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

/** Runs `fn(suite, corpus)` in the page. */
function inPage<T>(page: Page, fn: string): Promise<T> {
  return page.evaluate(`(async () => {
    const suite = globalThis.archiveBench;
    const corpus = globalThis.corpus ??= await (await fetch('/corpus.json')).json();
    return (${fn})(suite, corpus);
  })()`) as Promise<T>;
}

const ms = (n: number) => (n < 1 ? `${(n * 1000).toFixed(0)} µs` : `${n.toFixed(1)} ms`);
const MB = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

async function main(): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    console.log(`(skipped: no Chromium at ${CHROMIUM})`);
    return;
  }
  const corpus = makeCorpus();
  const queries = makeQueries(corpus);
  const server = await serve(
    await bundle(),
    JSON.stringify({ messages: corpus.messages, extra: corpus.extra.slice(0, 1000), queries }),
  );
  const profile = mkdtempSync(join(tmpdir(), 'veil-archive-bench-'));
  let browser: Browser | undefined;
  try {
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      pipe: true,
      protocolTimeout: 1_800_000,
      args: [...CHROMIUM_ARGS, `--user-data-dir=${profile}`],
    });
    const version = await browser.version();
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const { port } = server.address() as AddressInfo;
    const load = async () => {
      await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'load' });
      await page.waitForFunction('globalThis.benchReady === true', { timeout: 30_000 });
    };
    await load();
    const segment = Number(process.env.ARCHIVE_SEGMENT) || 5_000;
    const sizeIt = () => inPage(page, `(s) => s.setSegmentSize(${segment})`);
    await sizeIt();
    const step = (s: string) => process.stderr.write(`[archive-bench] ${s} …\n`);
    step(`fill ${corpus.messages.length}`);
    const fill = await inPage<{ ms: number }>(page, '(s, c) => s.fill(c.messages)');
    step('build');
    const built = await inPage<{ rebuildMs: number; persistMs: number }>(page, '(s) => s.build()');
    step('queries');
    type Q = Record<string, { p50: number; p95: number }>;
    const query = await inPage<Q>(page, '(s, c) => s.queries(c.queries)');
    step('adds');
    const adds = await inPage<{
      add: { p50: number; p95: number };
      floor: { p50: number; p95: number };
      recordPut: { p50: number; p95: number };
      persistMs: number;
    }>(page, '(s, c) => s.adds(c.extra)');
    step('linear scan');
    const scan = await inPage<{ openMs: number; all: { p50: number; p95: number }; byKind: Q }>(
      page,
      '(s, c) => s.scan(c.queries)',
    );
    const sizes = await inPage<{ archive: number; index: number; text: number }>(
      page,
      '(s) => s.sizes()',
    );
    step('cold start');
    await load();
    await sizeIt();
    // A word people use every day, so the newest segment holds matches (a rare one: see whole).
    const word = 'meeting ';
    const cold = await inPage<{
      firstResultMs: number;
      wholeMs: number;
      hits: number;
      segments: number;
      replayed: number;
    }>(page, `(s) => s.cold(${JSON.stringify(word)})`);
    const kinds = ['word', 'two-words', 'prefix', 'filtered'];
    const n = corpus.messages.length;
    const out = [
      `Chromium ${version}, ${n.toLocaleString('en')} messages (+${adds ? 1000 : 0} added), ${queries.length} queries (+50 warm-up), top 50; sealed under a data key in the page's IndexedDB.`,
      '',
      `| | archive (minisearch, segments of ${segment / 1000}k) | linear scan (records in memory) | archive / scan |`,
      '| --- | --- | --- | --- |',
      `| query p50 / p95 | ${ms(query.all!.p50)} / **${ms(query.all!.p95)}** | ${ms(scan.all.p50)} / ${ms(scan.all.p95)} | ${(query.all!.p95 / scan.all.p95).toFixed(2)}× |`,
      `| query p50 / p95, the index alone (no records opened) | ${ms(query.index!.p50)} / ${ms(query.index!.p95)} | | ${(query.index!.p95 / scan.all.p95).toFixed(2)}× |`,
      ...kinds.map(
        (k) =>
          `| p95 ${k} | ${ms(query[k]!.p95)} | ${ms(scan.byKind[k]!.p95)} | ${(query[k]!.p95 / scan.byKind[k]!.p95).toFixed(2)}× |`,
      ),
      `| add one message incl. persistence, p50 / p95 | ${ms(adds.add.p50)} / **${ms(adds.add.p95)}** (+ newest segment re-sealed once per 1,000: ${ms(adds.persistMs)}, ${ms(adds.persistMs / 1000)} per add) | — | — |`,
      `| one IndexedDB transaction, one small put (the floor under any add) | ${ms(adds.floor.p50)} / ${ms(adds.floor.p95)} | — | — |`,
      `| the record's sealed put alone (no catalog, no index) | ${ms(adds.recordPut.p50)} / ${ms(adds.recordPut.p95)} | — | — |`,
      `| cold start → first result | **${ms(cold.firstResultMs)}** (${cold.segments} segment(s) loaded, ${cold.replayed} replayed, ${cold.hits} hits); every segment in: ${ms(cold.wholeMs)} | ${ms(scan.openMs)} to open every record (+ scan) | ${(cold.firstResultMs / scan.openMs).toFixed(2)}× |`,
      `| at rest | index ${MB(sizes.index)} (${(sizes.index / sizes.text).toFixed(2)}× text, ${(sizes.index / sizes.archive).toFixed(2)}× records) | records ${MB(sizes.archive)} (text ${MB(sizes.text)}) | — |`,
      `| rebuild from records / seal whole index | ${ms(built.rebuildMs)} / ${ms(built.persistMs)} | — | — |`,
      `| fill (write ${n.toLocaleString('en')} sealed records, 1,000 per transaction) | ${ms(fill.ms)} | — | — |`,
    ];
    if (errors.length) out.push('', `page errors: ${errors.join('; ')}`);
    console.log(out.join('\n'));
  } finally {
    await browser?.close().catch(() => undefined);
    server.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

await main();
