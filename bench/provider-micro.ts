// Micro-benchmark of the CryptoProviders in Node (not a test): ops/s for X25519 keygen and DH,
// Ed25519 sign and verify, plus the cost of one safety number. Run: npx tsx bench/provider-micro.ts
import { createWebCryptoProvider } from '../extension/crypto/webcrypto-provider';
import { nobleProvider } from '../extension/protocol/crypto/noble';
import type { CryptoProvider } from '../extension/protocol/crypto/provider';
import { safetyNumber } from '../extension/protocol/safety-number';

const MIN_MS = 700;

/** Runs `op` sequentially (as the protocol does: one awaited step after another) for MIN_MS. */
async function opsPerSecond(op: (i: number) => Promise<unknown> | unknown): Promise<number> {
  for (let i = 0; i < 50; i++) await op(i); // warm-up
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < MIN_MS) {
    for (let k = 0; k < 20; k++) await op(n++);
    elapsed = performance.now() - start;
  }
  return (n / elapsed) * 1000;
}

async function benchProvider(p: CryptoProvider): Promise<Record<string, number>> {
  const a = await p.x25519Generate();
  const peers = await Promise.all(Array.from({ length: 1024 }, () => p.x25519Generate()));
  const ed = await p.ed25519Generate();
  const msg = p.randomBytes(200);
  const sig = await p.ed25519Sign(ed.privateKey, msg);
  return {
    'x25519 keygen': await opsPerSecond(() => p.x25519Generate()),
    // A new peer key each time, as in the ratchet: the public-key import is not cached.
    'x25519 DH (fresh peer key)': await opsPerSecond((i) =>
      p.x25519(a.privateKey, peers[i % peers.length]!.publicKey),
    ),
    'x25519 DH (same keys)': await opsPerSecond(() => p.x25519(a.privateKey, peers[0]!.publicKey)),
    'ed25519 sign (200 B)': await opsPerSecond(() => p.ed25519Sign(ed.privateKey, msg)),
    'ed25519 verify (200 B)': await opsPerSecond(() => p.ed25519Verify(ed.publicKey, msg, sig)),
  };
}

const providers: [string, CryptoProvider][] = [
  ['noble', nobleProvider],
  ['webcrypto', createWebCryptoProvider({ keygen: 'generate' })],
  ['webcrypto/import-keygen', createWebCryptoProvider({ keygen: 'import' })],
];
const results: Record<string, number>[] = [];
for (const [, p] of providers) results.push(await benchProvider(p));

const pad = (s: string, n: number) => s.padEnd(n);
console.log(`Node ${process.version}, ${MIN_MS} ms per figure, sequential awaits (ops/s)\n`);
console.log(pad('operation', 30) + providers.map(([name]) => pad(name, 26)).join(''));
for (const row of Object.keys(results[0]!)) {
  const base = results[0]![row]!;
  const cells = results.map((r, i) => {
    const v = r[row]!;
    const text = Math.round(v).toLocaleString('en') + (i > 0 ? ` (${(v / base).toFixed(1)}×)` : '');
    return pad(text, 26);
  });
  console.log(pad(row, 30) + cells.join(''));
}

const local = { id: 'alice', identityKey: (await nobleProvider.x25519Generate()).publicKey };
const remote = { id: 'bob', identityKey: (await nobleProvider.x25519Generate()).publicKey };
safetyNumber(local, remote);
const runs = 20;
const t0 = performance.now();
for (let i = 0; i < runs; i++) safetyNumber(local, remote);
const ms = (performance.now() - t0) / runs;
console.log(`\nsafetyNumber (2 × 5200 SHA-512, noble): ${ms.toFixed(1)} ms each`);
