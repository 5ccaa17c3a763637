// Vitest globalSetup for the e2e project: builds the Chrome and Firefox packages once per run
// (skipped with VEIL_SKIP_BUILD=1) and hands their paths to the tests. Writes only .output/.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    chromeExtensionDir: string;
    firefoxExtensionDir: string;
  }
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const targets = [
  { args: ['-b', 'chrome'], dir: '.output/chrome-mv3', env: 'VEIL_CHROME_EXTENSION_DIR' },
  {
    args: ['-b', 'firefox', '--mv3'],
    dir: '.output/firefox-mv3',
    env: 'VEIL_FIREFOX_EXTENSION_DIR',
  },
] as const;

function build(args: readonly string[]): void {
  const started = Date.now();
  const wxt = path.join(repoRoot, 'node_modules/.bin/wxt');
  // Vitest sets NODE_ENV=test; the tested build must be the production one users get.
  const result = spawnSync(wxt, ['build', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, NODE_ENV: 'production' },
  });
  if (result.status !== 0) {
    throw new Error(
      `wxt build ${args.join(' ')} failed (exit ${result.status}):\n${result.stdout}${result.stderr}`,
    );
  }
  console.log(`[e2e] wxt build ${args.join(' ')}: ${Date.now() - started} ms`);
}

export default function setup(project: TestProject): void {
  const skipBuild = process.env.VEIL_SKIP_BUILD === '1';
  for (const target of targets) {
    if (!skipBuild) build(target.args);
    const dir = path.join(repoRoot, target.dir);
    if (!fs.existsSync(path.join(dir, 'manifest.json'))) {
      throw new Error(`${target.dir}/manifest.json missing: run \`npm run build\` first.`);
    }
    // Env for code that is not a test (e.g. the harness default); provide() for tests.
    process.env[target.env] = dir;
  }
  project.provide('chromeExtensionDir', path.join(repoRoot, targets[0].dir));
  project.provide('firefoxExtensionDir', path.join(repoRoot, targets[1].dir));
}
