// `npm test`: lint, format check, typecheck, build, web-ext lint, then every Vitest project.
// Each check that fails counts as one failed item; the last line is `N passed, N failed[, N skipped]`.
// Extra arguments go to `vitest run` (e.g. `npm test -- --project unit`).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(root, 'node_modules/.bin', name);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Runs a command with inherited stdio; resolves to its exit code (signals count as failure). */
function run(command, args, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, ...env },
    });
    child.on('error', (error) => {
      console.error(`could not start ${command}: ${error.message}`);
      resolve(127);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)}s`;
const results = []; // { name, ok, detail, ms }

async function check(name, command, args, env) {
  console.log(`\n━━ ${name}`);
  const started = Date.now();
  const code = await run(command, args, env);
  const ms = Date.now() - started;
  const ok = code === 0;
  results.push({ name, ok, detail: ok ? '' : `exit ${code}`, ms });
  console.log(
    `${ok ? '✔' : '✘'} ${name} ${ok ? 'passed' : `failed (exit ${code})`} in ${seconds(ms)}`,
  );
  return ok;
}

await check('eslint .', bin('eslint'), ['.']);
await check('prettier --check .', bin('prettier'), ['--check', '.']);
await check('tsc --noEmit', bin('tsc'), ['--noEmit']);
const built = await check('npm run build', npm, ['run', 'build']);
// addons-linter on the Firefox package: manifest keys AMO requires, unsafe APIs, bad files.
if (built) {
  await check('web-ext lint (firefox-mv3)', bin('web-ext'), [
    'lint',
    '--source-dir',
    '.output/firefox-mv3',
    '--no-input',
  ]);
}

// Vitest: the default reporter streams, the JSON reporter gives the counts.
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-test-'));
const jsonFile = path.join(tmpDir, 'vitest.json');
const vitestArgs = [
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${jsonFile}`,
  // Without a build the browser tests cannot run; the failed build is already counted.
  ...(built ? [] : ['--project', 'unit']),
  ...process.argv.slice(2),
];
console.log(`\n━━ vitest${built ? '' : ' (unit only: the build failed)'}`);
const vitestStarted = Date.now();
// The build above is fresh, so the e2e global setup does not rebuild.
const vitestCode = await run(bin('vitest'), vitestArgs, built ? { VEIL_SKIP_BUILD: '1' } : {});
const vitestMs = Date.now() - vitestStarted;

let passed = results.filter((r) => r.ok).length;
let failed = results.length - passed;
let skipped = 0;
const failures = results.filter((r) => !r.ok).map((r) => `${r.name} (${r.detail})`);

let vitestLine;
let report;
try {
  report = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
} catch {
  report = undefined;
}
fs.rmSync(tmpDir, { recursive: true, force: true });

if (report) {
  let testsFailed = 0;
  for (const file of report.testResults ?? []) {
    const relative = path.relative(root, file.name);
    const failedHere = (file.assertionResults ?? []).filter((a) => a.status === 'failed');
    testsFailed += failedHere.length;
    for (const a of failedHere) failures.push(`${relative} > ${a.fullName}`);
    // A file that failed without a failed test (import error, failing hook) is one failed item.
    if (file.status === 'failed' && failedHere.length === 0) {
      testsFailed += 1;
      const reason = (file.message ?? '').split('\n')[0];
      failures.push(`${relative} (${reason || 'a hook or the file failed, see above'})`);
    }
  }
  const testsPassed = report.numPassedTests ?? 0;
  const testsSkipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  // Errors outside any test (unhandled rejections, global setup) fail the run without a count.
  if (vitestCode !== 0 && testsFailed === 0) {
    testsFailed = 1;
    failures.push(`vitest exited with code ${vitestCode} (errors outside tests, see above)`);
  }
  passed += testsPassed;
  failed += testsFailed;
  skipped += testsSkipped;
  vitestLine =
    `${testsFailed ? '✘' : '✔'} vitest: ${testsPassed} passed, ${testsFailed} failed, ` +
    `${testsSkipped} skipped (${seconds(vitestMs)})`;
} else {
  failed += 1;
  failures.push(`vitest (exit ${vitestCode}, no JSON report)`);
  vitestLine = `✘ vitest produced no report (exit ${vitestCode}) (${seconds(vitestMs)})`;
}

console.log('\n━━ summary');
for (const r of results) console.log(`${r.ok ? '✔' : '✘'} ${r.name} (${seconds(r.ms)})`);
console.log(vitestLine);
if (failures.length) {
  console.log('failed:');
  for (const f of failures) console.log(`  ✘ ${f}`);
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed === 0 ? 0 : 1;
