#!/usr/bin/env node
// `npm run bench`: Veil side by side with libsignal-client and OpenPGP.js in one run, one table
// with ratios. Each runner is its own process (its own JIT and heap) and they run one after the
// other (a 2-core machine): bench/libsignal-bench.ts, bench/openpgp-bench.ts,
// bench/veil-node.ts, bench/veil-chromium.ts; then the extra benches that exist
// (bench/directory-bench.ts, bench/inpage-bench.ts, bench/flood-bench.ts), whose printed
// output is included as is.
// Figures, never pass/fail: the exit code is 0 unless the harness itself broke.
//
// Environment: BENCH_RUNS=n (measured repetitions, median reported; default 3),
// BENCH_QUICK=1 (smoke run, small counts), BENCH_ONLY=libsignal,openpgp,veil-node,veil-chromium,extra
// (run a subset), BENCH_TIMEOUT_S (per runner, default 300).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, '.bench');
const TIMEOUT_MS = (Number(process.env.BENCH_TIMEOUT_S) || 300) * 1000;
const ONLY = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const wanted = (name) => !ONLY || ONLY.includes(name);

/** Benches by others, run when their file exists; output included verbatim. Add issue 5's here. */
const EXTRA_BENCHES = [
  { file: 'bench/directory-bench.ts', title: 'Key directory (bench/directory-bench.ts)' },
  {
    file: 'bench/inpage-bench.ts',
    title: 'In-page, Chromium with the extension (bench/inpage-bench.ts)',
  },
  {
    file: 'bench/frame-startup-bench.ts',
    title: 'Frame start-up: 8 extension frames at once (bench/frame-startup-bench.ts)',
  },
  {
    file: 'bench/archive-bench.ts',
    title: 'Message archive: 100,000 messages in Chromium (bench/archive-bench.ts)',
  },
  {
    file: 'bench/flood-bench.ts',
    title: 'Hostile page: worst block, another tab while one floods (bench/flood-bench.ts)',
  },
];

const COLUMNS = [
  ['veil-chromium-webcrypto', 'Veil (Chromium, WebCrypto)'],
  ['veil-chromium-noble', 'Veil (Chromium, noble)'],
  ['veil-node-webcrypto', 'Veil (Node, WebCrypto)'],
  ['veil-node-noble', 'Veil (Node, noble)'],
  ['libsignal-node', 'libsignal-client (Node)'],
  ['openpgp-node', 'OpenPGP.js (Node)'],
];

const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = Number(process.env.BENCH_RUNS) || (QUICK ? 1 : 3);
/**
 * How rounds combine. 'best' (default): the fastest round of each figure — on a shared machine
 * noise only ever slows a run down, so the best round is the most reproducible estimate and
 * treats every column alike. 'median': the median round.
 */
const STAT = process.env.BENCH_STAT === 'median' ? 'median' : 'best';

const RUNNERS = [
  {
    name: 'libsignal',
    file: 'bench/libsignal-bench.ts',
    label: 'libsignal-client (Node)',
    ids: ['libsignal-node'],
  },
  {
    name: 'openpgp',
    file: 'bench/openpgp-bench.ts',
    label: 'OpenPGP.js (Node)',
    ids: ['openpgp-node'],
  },
  {
    name: 'veil-node',
    file: 'bench/veil-node.ts',
    label: 'Veil (Node)',
    ids: ['veil-node-webcrypto', 'veil-node-noble'],
  },
  {
    name: 'veil-chromium',
    file: 'bench/veil-chromium.ts',
    label: 'Veil (Chromium)',
    ids: ['veil-chromium-webcrypto', 'veil-chromium-noble'],
  },
];

const DEFINITIONS = {
  pingPong:
    '1:1 ping-pong: fresh session, message i sent by Alice when i is even and by Bob when odd, each decrypted before the next is sent (every message is a ratchet step); messages / wall time of all encrypt + decrypt calls.',
  decryptHistory:
    'Decrypt time of a 1,000-message ping-pong = the sum of the time spent inside the decrypt calls (from the ciphertext as transmitted — bytes for libsignal, armored text for Veil and OpenPGP — to verified plaintext) over 1,000 messages exchanged ping-pong on a fresh session.',
  groupDecrypt:
    'Group sender-key decrypt: messages after the first (which carries the sender-key distribution) / sum of the time inside the receivers’ decrypt calls. Veil: a group of 3 (2 receivers, each message counted per receiver); each receiver decrypts the messages with one decryptMany call, as when a page showing them loads (the same checks and results as one decrypt per message, in order; signatures verified ahead, concurrently; one store commit). libsignal has no batch API: groupEncrypt/groupDecrypt, one call per message, after a SenderKeyDistributionMessage, 1 receiver.',
  groupDecryptEach:
    'Group sender-key decrypt, one call per message: as above, but every receiver decrypts each message with its own decrypt call as it arrives (no batch). libsignal: the same figure as above (its only mode).',
  setup:
    'Session setup: 100 fresh pairs; the responder’s bundle (with a one-time ML-KEM prekey for Veil, a Kyber prekey for libsignal) is made ahead and not timed; timed: the initiator starts the session from it, encrypts a 200-byte text, the responder decrypts that first message. Median per setup.',
  size: 'Size of a 200-byte message as transmitted: bytes for libsignal (binary protobuf), characters for Veil (armored, all chunks) and OpenPGP.js (ASCII armor). Later = median over the ping-pong after the first two messages (range in brackets).',
  common: `All messages are 200 ASCII characters (200 bytes). Rounds: in every round each runner runs once, in its own process, after a warm-up on throw-away parties; each figure is the ${STAT === 'best' ? 'best' : 'median'} of BENCH_RUNS interleaved rounds (default 3; BENCH_STAT=median for the median). Every round's figures are in .bench/results.json.`,
};

// ---- running the runners ----

function runNode(args, { timeoutMs = TIMEOUT_MS, label, env = {} }) {
  return new Promise((done) => {
    const started = Date.now();
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      process.stderr.write(d);
    });
    const timer = setTimeout(() => {
      stderr += `\n[bench] ${label}: timed out after ${timeoutMs / 1000} s\n`;
      // SIGTERM first so a runner can close its browser and delete its profile.
      child.kill('SIGTERM');
      setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 10_000).unref();
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

const tsx = (file) => ['--import', 'tsx', file];

/** Runs a runner that prints one JSON document; returns it, or an error description. */
async function runJson(file, label, env) {
  process.stderr.write(`[bench] ${label} …\n`);
  const r = await runNode(tsx(file), { label, env });
  process.stderr.write(`[bench] ${label}: ${r.seconds.toFixed(1)} s\n`);
  const line = r.stdout.trim().split('\n').filter(Boolean).pop();
  if (r.code === 0 && line) {
    try {
      return { value: JSON.parse(line), seconds: r.seconds };
    } catch {
      /* fall through */
    }
  }
  const tail = r.stderr.trim().split('\n').filter(Boolean).slice(-3).join(' | ');
  return { error: `${label} failed (exit ${r.code ?? r.signal}): ${tail || 'no output'}` };
}

// ---- formatting ----

const fmt = (n, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const METRICS = [
  {
    key: 'pingPong',
    title: '1:1 ping-pong encrypt+decrypt (msgs/s)',
    value: (r) => r.pingPong?.msgsPerSec,
    cell: (r) => fmt(r.pingPong.msgsPerSec),
    better: 'higher',
    target: '≥ 2,500/s in Chromium, ahead of libsignal',
    meets: (v, lib) => v >= 2500 && (lib === undefined || v > lib),
  },
  {
    key: 'decryptHistory',
    title: 'decrypt a 1,000-message ping-pong (ms, sum of decrypt calls)',
    value: (r) => r.decryptHistory?.ms,
    cell: (r) => fmt(r.decryptHistory.ms, 1),
    better: 'lower',
    target: '≤ 150 ms in Chromium, below libsignal',
    meets: (v, lib) => v <= 150 && (lib === undefined || v < lib),
  },
  {
    key: 'groupDecrypt',
    title: 'group sender-key decrypt (msgs/s)',
    value: (r) => r.groupDecrypt?.msgsPerSec,
    cell: (r) => fmt(r.groupDecrypt.msgsPerSec),
    better: 'higher',
    target: '≥ 7,500/s',
    meets: (v) => v >= 7500,
  },
  {
    key: 'groupDecryptEach',
    title: 'group sender-key decrypt, one call per message (msgs/s)',
    // libsignal's group figure is already one groupDecrypt call per message.
    value: (r) =>
      (r.groupDecryptEach ?? (r.id === 'libsignal-node' ? r.groupDecrypt : undefined))?.msgsPerSec,
    cell: (r) =>
      fmt(
        (r.groupDecryptEach ?? (r.id === 'libsignal-node' ? r.groupDecrypt : undefined)).msgsPerSec,
      ),
    better: 'higher',
    target: '— (≥ 7,500/s is for the figure above)',
  },
  {
    key: 'sizeFirst',
    title: 'size of a 200-byte message: first (pre-key) message',
    value: (r) => r.size?.first,
    cell: (r) =>
      `${fmt(r.size.first)} ${unit(r)}${r.size.chunksFirst > 1 ? ` (${r.size.chunksFirst} chunks)` : ''}`,
    better: 'lower',
    target: '≤ 2,000 chars with post-quantum setup (libsignal PQXDH: 2,604 base64 chars)',
    meets: (v) => v <= 2000,
  },
  {
    key: 'setup',
    title: 'session setup from a bundle + first 200-byte message read (ms, median of 100)',
    value: (r) => r.setup?.msPerSetup,
    cell: (r) => `${fmt(r.setup.msPerSetup, 2)} ms${r.setup.postQuantum ? ' (PQ)' : ''}`,
    better: 'lower',
    target: '— (post-quantum; libsignal PQXDH beside it)',
  },
  {
    key: 'sizeLater',
    title: 'size of a 200-byte message: later message',
    value: (r) => r.size?.later,
    cell: (r) =>
      `${fmt(r.size.later)} ${unit(r)}` +
      (r.size.laterMin !== r.size.laterMax
        ? ` (${fmt(r.size.laterMin)}–${fmt(r.size.laterMax)})`
        : '') +
      (r.size.chunksLater > 1 ? ` (${r.size.chunksLater} chunks)` : ''),
    better: 'lower',
    target: '≤ 420 chars',
    meets: (v) => v <= 420,
  },
  {
    key: 'sizeDevices',
    title: 'size of a later 200-byte message to a person on 1 / 2 / 3 devices',
    value: (r) => r.size?.devices?.[2],
    cell: (r) =>
      `${r.size.devices.map((n) => fmt(n)).join(' / ')} ${unit(r)} (+${fmt(
        (r.size.devices[2] - r.size.devices[0]) / 2,
      )} per device)`,
    better: 'lower',
    target: '≤ 420 + 130 per further device',
    meets: (v, _lib, r) => r.size.devices.every((n, i) => n <= 420 + 130 * i),
  },
  {
    key: 'sizeGroupDevices',
    title: 'size of a 200-byte group message to 2 members on 1 / 2 devices each: first, later',
    value: (r) => r.size?.groupDevices?.[1]?.first,
    cell: (r) =>
      r.size.groupDevices.map((g) => `${fmt(g.first)}, ${fmt(g.later)}`).join(' / ') +
      ` ${unit(r)}`,
    better: 'lower',
    target: 'later ≤ 440; first ≤ 1,500 + 500 per further device',
    meets: (_v, _lib, r) =>
      r.size.groupDevices.every(
        (g) => g.later <= 440 && g.first <= 1500 + 500 * 2 * (g.devices - 1),
      ),
  },
  {
    key: 'sizeGroup',
    title: 'size of a 200-byte group message (after distribution)',
    value: (r) => r.size?.group,
    cell: (r) => `${fmt(r.size.group)} ${unit(r)}`,
    better: 'lower',
    target: '—',
  },
];

function unit(r) {
  return r.size.unit === 'bytes' ? 'B' : 'chars';
}

function buildReport(results, meta) {
  const byId = new Map(results.map((r) => [r.id, r]));
  const cols = COLUMNS.map(
    ([id, label]) => byId.get(id) ?? { id, label, skipped: 'not run', notes: [] },
  );
  const footnotes = [];
  const noteFor = (text) => {
    let i = footnotes.indexOf(text);
    if (i < 0) i = footnotes.push(text) - 1;
    return `n/a[${i + 1}]`;
  };
  const lines = [];
  lines.push(`| metric | ${cols.map((c) => c.label).join(' | ')} | target |`);
  lines.push(`|---|${cols.map(() => '---:').join('|')}|---|`);
  for (const m of METRICS) {
    const cells = cols.map((c) => {
      if (c.skipped) return noteFor(`${c.label}: skipped — ${c.skipped}`);
      if (c.error) return noteFor(`${c.label}: error — ${c.error}`);
      return m.value(c) === undefined || Number.isNaN(m.value(c)) ? '—' : m.cell(c);
    });
    lines.push(`| ${m.title} | ${cells.join(' | ')} | ${m.target} |`);
  }
  const table = lines.join('\n');

  // Ratios: the best Veil Chromium column vs libsignal (and OpenPGP.js).
  const lib = byId.get('libsignal-node');
  const pgp = byId.get('openpgp-node');
  const chromium = cols.filter((c) => c.id.startsWith('veil-chromium') && !c.skipped && !c.error);
  const ratios = [];
  for (const m of METRICS) {
    const cand = chromium.filter((c) => m.value(c) !== undefined);
    if (!cand.length) {
      ratios.push(`- ${m.title}: no Veil Chromium figure`);
      continue;
    }
    const best = cand.reduce((a, b) =>
      (m.better === 'higher' ? m.value(b) > m.value(a) : m.value(b) < m.value(a)) ? b : a,
    );
    const v = m.value(best);
    const parts = [`${best.label} ${m.cell(best)}`];
    for (const peer of [lib, pgp]) {
      let pv = peer && !peer.skipped && !peer.error ? m.value(peer) : undefined;
      if (pv === undefined) continue;
      let shown = m.cell(peer);
      if (m.key.startsWith('size') && peer.size.unit === 'bytes') {
        // Compare characters with characters: the peer's bytes as base64 text.
        pv = Math.ceil(pv / 3) * 4;
        shown = `${fmt(pv)} chars as base64`;
      }
      // Always "how many times better Veil is": > 1 means Veil is ahead.
      const x = m.better === 'higher' ? v / pv : pv / v;
      parts.push(`${x.toFixed(2)}× vs ${peer.label} (${shown})`);
    }
    const libV = lib && !lib.skipped && !lib.error ? m.value(lib) : undefined;
    const target = m.meets ? (m.meets(v, libV, best) ? 'meets target' : 'misses target') : '';
    ratios.push(`- ${m.title}: ${parts.join('; ')}${target ? ` — ${target} (${m.target})` : ''}`);
  }

  const notes = cols
    .filter((c) => c.notes?.length)
    .map((c) => `- ${c.label}: ${c.notes.join(' ')}`);

  const md = [
    `# Veil benchmarks`,
    '',
    `${meta.date} · ${meta.cpus} × ${meta.cpuModel} · load average at start ${meta.load} ` +
      `(1-min at each round: ${meta.loadPerRound.join(', ')}) · ${meta.stat} of ${meta.rounds} round(s) · ` +
      `Node ${meta.node} · libsignal-client ${meta.versions.libsignal ?? '?'} · ` +
      `OpenPGP.js ${meta.versions.openpgp ?? '?'} · ${meta.versions.chromium ?? 'Chromium ?'}` +
      (meta.quick ? ' · **BENCH_QUICK smoke run: small counts, not comparable**' : ''),
    '',
    ...(Math.max(Number(meta.load.split(' ')[0]), ...meta.loadPerRound.map(Number)) > meta.cpus
      ? [
          `**The machine was busy** (load average above its ${meta.cpus} cores while measuring): ` +
            'absolute figures are low and noisy (see the rounds in .bench/results.json); interleaved rounds keep the ratios fairer.',
          '',
        ]
      : []),
    table,
    '',
    'Ratios (best Veil in Chromium vs the peers; > 1× means Veil is ahead):',
    '',
    ...ratios,
    '',
    ...footnotes.map((f, i) => `[${i + 1}] ${f}`),
    ...(footnotes.length ? [''] : []),
    'Definitions:',
    '',
    ...Object.values(DEFINITIONS).map((d) => `- ${d}`),
    '',
    ...(notes.length ? ['Notes:', '', ...notes, ''] : []),
  ];
  return md.join('\n');
}

// ---- main ----

async function main() {
  const t0 = Date.now();
  const meta = {
    date: new Date().toISOString(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model?.trim() ?? 'cpu',
    load: loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
    node: process.version,
    quick: QUICK,
    rounds: ROUNDS,
    stat: STAT,
    loadPerRound: [],
    versions: {},
  };
  // Interleaved rounds: every runner once per round (its own process, its own warm-up), so a
  // burst of load from elsewhere hits all columns alike; figures are the median over rounds.
  const harnessErrors = [];
  const byRound = [];
  for (let round = 1; round <= ROUNDS; round++) {
    meta.loadPerRound.push(loadavg()[0].toFixed(2));
    const got = [];
    for (const runner of RUNNERS.filter((x) => wanted(x.name))) {
      const label = ROUNDS > 1 ? `${runner.label} — round ${round}/${ROUNDS}` : runner.label;
      const r = await runJson(runner.file, label, { BENCH_RUNS: '1' });
      if (r.error) {
        harnessErrors.push(r.error);
        for (const id of runner.ids) {
          const colLabel = COLUMNS.find(([c]) => c === id)?.[1] ?? id;
          got.push({ id, label: colLabel, error: r.error, notes: [] });
        }
        continue;
      }
      const list = Array.isArray(r.value) ? r.value : (r.value.results ?? [r.value]);
      got.push(...list);
      if (r.value.chromium) meta.versions.chromium = r.value.chromium;
    }
    byRound.push(got);
  }
  const results = combineRounds(byRound);
  for (const r of results) {
    if (r.versions?.['@signalapp/libsignal-client'])
      meta.versions.libsignal = r.versions['@signalapp/libsignal-client'];
    if (r.versions?.openpgp) meta.versions.openpgp = r.versions.openpgp;
  }
  if (!meta.versions.libsignal)
    meta.versions.libsignal = await pkgVersion('@signalapp/libsignal-client');
  if (!meta.versions.openpgp) meta.versions.openpgp = await pkgVersion('openpgp');

  let md = buildReport(results, meta);
  process.stdout.write(`\n${md}\n`);

  // Benches owned by others: run if present, include their printed output.
  const extras = [];
  if (wanted('extra')) {
    for (const x of EXTRA_BENCHES) {
      if (!existsSync(join(ROOT, x.file))) {
        const output = `(${x.file} not present yet)`;
        extras.push({ ...x, output });
        const section = `\n## ${x.title}\n\n${output}\n`;
        process.stdout.write(section);
        md += section;
        continue;
      }
      process.stderr.write(`[bench] ${x.title} …\n`);
      const r = await runNode(tsx(x.file), {
        label: x.title,
        timeoutMs: Math.max(TIMEOUT_MS, 300_000),
      });
      const output =
        r.stdout.trim() +
        (r.code === 0
          ? ''
          : `\n(exit ${r.code ?? r.signal}; stderr tail: ${r.stderr.trim().split('\n').slice(-5).join(' | ')})`);
      extras.push({ ...x, output, seconds: r.seconds, code: r.code });
      const section = `\n## ${x.title}\n\n\`\`\`\n${output}\n\`\`\`\n`;
      process.stdout.write(section);
      md += section;
    }
  }
  const total = (Date.now() - t0) / 1000;
  const footer = `\nTotal bench time: ${total.toFixed(0)} s.\n`;
  md += footer;
  process.stdout.write(footer);

  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(join(OUT_DIR, 'results.md'), md);
  writeFileSync(
    join(OUT_DIR, 'results.json'),
    `${JSON.stringify({ meta, definitions: DEFINITIONS, results, extras, harnessErrors, totalSeconds: total }, null, 2)}\n`,
  );
  process.stderr.write(`[bench] wrote .bench/results.md and .bench/results.json\n`);
}

/** One result per column: the median of each figure over the rounds that produced it. */
function combineRounds(byRound) {
  const ids = [...new Set(byRound.flat().map((r) => r.id))];
  return ids.map((id) => {
    const all = byRound.map((round) => round.find((r) => r.id === id)).filter(Boolean);
    const ok = all.filter((r) => !r.skipped && !r.error);
    if (!ok.length) return all[0];
    const out = structuredClone(ok[0]);
    out.runs = ok.length;
    const pick = (f, better) => {
      const xs = ok.map(f).filter((x) => typeof x === 'number');
      if (STAT === 'median') return median(xs);
      return better === 'higher' ? Math.max(...xs) : Math.min(...xs);
    };
    if (out.pingPong) {
      out.pingPong.msgsPerSec = pick((r) => r.pingPong?.msgsPerSec, 'higher');
      out.pingPong.ms = (out.pingPong.messages / out.pingPong.msgsPerSec) * 1000;
    }
    if (out.decryptHistory) out.decryptHistory.ms = pick((r) => r.decryptHistory?.ms, 'lower');
    if (out.groupDecrypt) {
      out.groupDecrypt.msgsPerSec = pick((r) => r.groupDecrypt?.msgsPerSec, 'higher');
      out.groupDecrypt.ms = (out.groupDecrypt.decrypts / out.groupDecrypt.msgsPerSec) * 1000;
    }
    if (out.groupDecryptEach) {
      out.groupDecryptEach.msgsPerSec = pick((r) => r.groupDecryptEach?.msgsPerSec, 'higher');
      out.groupDecryptEach.ms =
        (out.groupDecryptEach.decrypts / out.groupDecryptEach.msgsPerSec) * 1000;
    }
    out.rounds = all.map((r) => ({
      pingPongMsgsPerSec: r.pingPong?.msgsPerSec,
      decryptHistoryMs: r.decryptHistory?.ms,
      groupMsgsPerSec: r.groupDecrypt?.msgsPerSec,
      groupEachMsgsPerSec: r.groupDecryptEach?.msgsPerSec,
      error: r.error,
    }));
    const failed = all.filter((r) => r.error);
    if (failed.length)
      out.notes = [...(out.notes ?? []), `${failed.length} round(s) failed: ${failed[0].error}`];
    return out;
  });
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function pkgVersion(name) {
  try {
    const { createRequire } = await import('node:module');
    const req = createRequire(join(ROOT, 'package.json'));
    const entry = req.resolve(name);
    const { readFileSync } = await import('node:fs');
    const dir = entry.slice(
      0,
      entry.lastIndexOf('/node_modules/') + '/node_modules/'.length + name.length,
    );
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
