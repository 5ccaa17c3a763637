// What one frame per visible message costs before any of Veil's work: a host page adds 8
// iframes of an extension page at once (as a screenful of messages does) and times their `load`
// events. Two pages: one the extension does not have (the browser's bare cost of 8 extension
// frames) and reader.html (with a token no one issued, so it asks the background once and shows
// "not placed"). Interleaved rounds in one Chromium, median of the last frame's load.
// Run: node --import tsx bench/frame-startup-bench.ts (after `npm run build`, or it builds).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../tests/e2e/harness';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_RUNS) || 5;
const FRAMES = 8;

declare const chrome: { runtime: { getURL(p: string): string } };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const ext = path.join(ROOT, '.output/chrome-mv3');
  if (!fs.existsSync(path.join(ext, 'manifest.json'))) {
    const r = spawnSync(path.join(ROOT, 'node_modules/.bin/wxt'), ['build', '-b', 'chrome'], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    if (r.status !== 0) throw new Error('wxt build failed');
  }
  const server = http
    .createServer((_req, res) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end('<!doctype html><title>host</title><body></body>');
    })
    .listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as AddressInfo;
  const session = await launchChromium({ extensionDir: ext });
  try {
    // The frames' address as Veil's content script gets it (a per-session dynamic id), asked
    // of an extension page.
    const options = await session.browser.newPage();
    await options.goto(`${session.origin}options.html`);
    const reader = await options.evaluate(() => chrome.runtime.getURL('/reader.html'));
    await options.close();
    const variants = { 'missing page': reader.replace('reader.html', 'missing.html'), reader };
    const times: Record<string, number[]> = { 'missing page': [], reader: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, src] of Object.entries(variants)) {
        const page = await session.browser.newPage();
        await page.goto(`http://127.0.0.1:${port}/`);
        const last = await page.evaluate(
          async (src: string, n: number) => {
            const t0 = performance.now();
            const loads: Promise<number>[] = [];
            for (let i = 0; i < n; i++) {
              const frame = document.createElement('iframe');
              frame.src = `${src}#${'A'.repeat(21)}${i}`;
              frame.style.cssText = 'display:block;width:600px;height:100px;border:0';
              loads.push(
                new Promise((res) =>
                  frame.addEventListener('load', () => res(performance.now() - t0)),
                ),
              );
              document.body.append(frame);
            }
            return Math.max(...(await Promise.all(loads)));
          },
          src,
          FRAMES,
        );
        times[name]!.push(last);
        await page.close();
      }
    }
    const row = (name: string) =>
      `| ${FRAMES} frames of ${name}: last \`load\` | ${Math.round(median(times[name]!))} ms | ${times[name]!.map(Math.round).join(', ')} |`;
    console.log(
      `## Frame start-up (${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(2)})`,
    );
    console.log('');
    console.log('| what | median | rounds |');
    console.log('|---|---:|---|');
    console.log(row('missing page'));
    console.log(row('reader'));
  } finally {
    await session.close();
    server.close();
  }
}

await main();
