// `npm start`: builds the Chrome and Firefox packages, then runs the key directory in the foreground
// (SQLite by default; PORT, VEIL_DB and DATABASE_URL pass through) and says how to load the builds.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

const build = spawnSync(npm, ['run', 'build'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  console.error(`\nBuild failed (exit ${build.status ?? build.signal}); nothing started.`);
  process.exit(build.status || 1);
}

const chromeDir = path.join(root, '.output/chrome-mv3');
const firefoxDir = path.join(root, '.output/firefox-mv3');
console.log(`
Veil is built.
  Chrome / Chromium: ${path.relative(root, chromeDir)}
    chrome://extensions → turn on "Developer mode" → "Load unpacked" → choose that folder.
  Firefox:           ${path.relative(root, firefoxDir)}
    about:debugging#/runtime/this-firefox → "Load Temporary Add-on…" → choose its manifest.json.
`);

const server = path.join(root, 'key-directory/server.ts');
if (!fs.existsSync(server)) {
  console.log('Key directory not started: key-directory/server.ts does not exist yet.');
  process.exit(0);
}

console.log('Starting the key directory (npm run directory); Ctrl+C stops it.\n');
// tsx directly rather than through npm, so signals reach the server without a middleman.
const child = spawn(path.join(root, 'node_modules/.bin/tsx'), [server], {
  cwd: root,
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}
child.on('error', (error) => {
  console.error(`Could not start the key directory: ${error.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  process.exit(code ?? (signal === 'SIGINT' || signal === 'SIGTERM' ? 0 : 1));
});
