// Micro-benchmark of 1:1 sessions in Node: `npx tsx bench/ratchet-micro.ts`. Isolates x3dh.ts,
// ratchet.ts and session.ts (with plaintext framing, without armor) from the rest of the stack.
import { existsSync } from 'node:fs';
import type { CryptoProvider } from '../extension/protocol/crypto/provider';
import { nobleProvider } from '../extension/protocol/crypto/noble';
import { decodeEnvelope } from '../extension/protocol/envelope';
import {
  createOneTimePrekeys,
  createSignedPrekey,
  generateIdentity,
  oneTimePrekeyPublic,
  signedPrekeyPublic,
} from '../extension/protocol/identity';
import { decodePlaintext, encodePlaintext } from '../extension/protocol/plaintext';
import {
  createInitiatorSession,
  sessionDecrypt,
  sessionEncrypt,
  sessionFromPrekeyMessage,
  type SessionRecord,
} from '../extension/protocol/session';
import { makeMessage } from './common';

const MESSAGES = 2000;
const HISTORY = 1000;
const ONE_WAY = 2000;
const WARMUP = 300;
const RUNS = 3;

async function decryptOne(crypto: CryptoProvider, record: SessionRecord, bytes: Uint8Array) {
  const envelope = decodeEnvelope(bytes);
  if (envelope.type !== 1 && envelope.type !== 2) throw new Error('not a 1:1 envelope');
  const out = await sessionDecrypt(crypto, record, envelope);
  const [text] = decodePlaintext(out.plaintext);
  if (text?.type !== 'text') throw new Error('no text record');
  return { record: out.record, text: text.text };
}

/** A fresh session: Alice's pre-key message read by Bob. Returns both records and sizes. */
async function establish(crypto: CryptoProvider) {
  const aliceId = await generateIdentity(crypto);
  const bobId = await generateIdentity(crypto);
  const spk = await createSignedPrekey(crypto, bobId, 1, 0);
  const [opk] = await createOneTimePrekeys(crypto, 1, 1);
  const alice0 = await createInitiatorSession(crypto, {
    ourIdentity: aliceId,
    theirBundle: {
      identityKey: bobId.publicKey,
      signedPrekey: signedPrekeyPublic(spk),
      oneTimePrekey: oneTimePrekeyPublic(opk!),
    },
  });
  const first = await sessionEncrypt(
    crypto,
    alice0,
    encodePlaintext([{ type: 'text', text: makeMessage(0) }]),
  );
  const prekey = decodeEnvelope(first.envelope);
  if (prekey.type !== 1) throw new Error('expected a pre-key message');
  const bob = await sessionFromPrekeyMessage(
    crypto,
    bobId,
    () => ({ signedPrekey: spk.keyPair, oneTimePrekey: opk!.keyPair }),
    prekey,
  );
  return { alice: first.record, bob: bob.record, firstBytes: first.envelope.length };
}

/** Ping-pong: message i from Alice when i is even, Bob when odd; every message a ratchet step. */
async function pingPong(crypto: CryptoProvider, n: number) {
  let { alice, bob } = await establish(crypto);
  const texts = Array.from({ length: n }, (_, i) => makeMessage(i + 1));
  const sizes: number[] = [];
  let decryptMs = 0;
  let historyDecryptMs = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const aliceSends = i % 2 === 0;
    const out = await sessionEncrypt(
      crypto,
      aliceSends ? alice : bob,
      encodePlaintext([{ type: 'text', text: texts[i]! }]),
    );
    const d0 = performance.now();
    const got = await decryptOne(crypto, aliceSends ? bob : alice, out.envelope);
    const dt = performance.now() - d0;
    decryptMs += dt;
    if (i < HISTORY) historyDecryptMs += dt;
    if (got.text !== texts[i]) throw new Error('benchmark self-check failed: wrong plaintext');
    if (aliceSends) [alice, bob] = [out.record, got.record];
    else [bob, alice] = [out.record, got.record];
    sizes.push(out.envelope.length);
  }
  const ms = performance.now() - t0;
  return { ms, msgsPerSec: (n / ms) * 1000, decryptMs, historyDecryptMs, sizes };
}

/** One sender, no turns: the symmetric-only path (no DH per message). */
async function oneWay(crypto: CryptoProvider, n: number) {
  let { alice, bob } = await establish(crypto);
  const sent: Uint8Array[] = [];
  const e0 = performance.now();
  for (let i = 0; i < n; i++) {
    const out = await sessionEncrypt(
      crypto,
      alice,
      encodePlaintext([{ type: 'text', text: makeMessage(i) }]),
    );
    alice = out.record;
    sent.push(out.envelope);
  }
  const encryptMs = performance.now() - e0;
  const d0 = performance.now();
  for (const bytes of sent) bob = (await decryptOne(crypto, bob, bytes)).record;
  const decryptMs = performance.now() - d0;
  return { encryptPerSec: (n / encryptMs) * 1000, decryptPerSec: (n / decryptMs) * 1000 };
}

/** Wraps a provider to add up the time spent inside its asymmetric operations. */
function timed(crypto: CryptoProvider): CryptoProvider & { ms: number } {
  const t: CryptoProvider & { ms: number } = {
    ...crypto,
    name: crypto.name,
    ms: 0,
    async x25519Generate() {
      const t0 = performance.now();
      try {
        return await crypto.x25519Generate();
      } finally {
        t.ms += performance.now() - t0;
      }
    },
    async x25519(privateKey, publicKey) {
      const t0 = performance.now();
      try {
        return await crypto.x25519(privateKey, publicKey);
      } finally {
        t.ms += performance.now() - t0;
      }
    },
  };
  return t;
}

function medianBy<T>(xs: T[], key: (x: T) => number): T {
  return [...xs].sort((a, b) => key(a) - key(b))[xs.length >> 1]!;
}

async function measure(crypto: CryptoProvider): Promise<void> {
  await pingPong(crypto, WARMUP);
  const runs = [];
  for (let r = 0; r < RUNS; r++) runs.push(await pingPong(crypto, MESSAGES));
  const mid = medianBy(runs, (r) => r.msgsPerSec);
  const history = medianBy(runs, (r) => r.historyDecryptMs);
  const oneWays = [];
  for (let r = 0; r < RUNS; r++) oneWays.push(await oneWay(crypto, ONE_WAY));
  const ow = medianBy(oneWays, (r) => r.decryptPerSec);
  const { firstBytes } = await establish(crypto);
  // Where a ping-pong message's time goes: the provider's X25519 or everything else (ratchet,
  // framing, parsing, state copies).
  const probe = timed(crypto);
  const split = await pingPong(probe, MESSAGES);
  const ownUs = ((split.ms - probe.ms) / MESSAGES) * 1000;
  const providerUs = (probe.ms / MESSAGES) * 1000;
  const later = mid.sizes.slice(2);
  console.log(
    [
      `${crypto.name}:`,
      `  ping-pong ${MESSAGES} msgs of 200 B: ${Math.round(mid.msgsPerSec)} msgs/s ` +
        `(median of ${RUNS}; runs ${runs
          .map((r) => Math.round(r.msgsPerSec))
          .sort((x, y) => x - y)
          .join(', ')})`,
      `  decrypt time of a ${HISTORY}-message ping-pong: ${history.historyDecryptMs.toFixed(1)} ms`,
      `  per ping-pong message: ${Math.round(providerUs)} µs in X25519 (1 keygen + 2 DH), ` +
        `${Math.round(ownUs)} µs in the rest (encrypt + decrypt)`,
      `  one-way (no ratchet step): encrypt ${Math.round(ow.encryptPerSec)} msgs/s, ` +
        `decrypt ${Math.round(ow.decryptPerSec)} msgs/s`,
      `  envelope: first (type 1) ${firstBytes} B, later (type 2) ${Math.min(...later)}–${Math.max(...later)} B`,
    ].join('\n'),
  );
}

await measure(nobleProvider);
const webcryptoPath = new URL('../extension/crypto/webcrypto-provider.ts', import.meta.url);
if (existsSync(webcryptoPath)) {
  const mod = await import(webcryptoPath.href);
  const provider: CryptoProvider | undefined =
    mod.webcryptoProvider ??
    (mod.createWebCryptoProvider && (!mod.webCryptoSupported || (await mod.webCryptoSupported()))
      ? mod.createWebCryptoProvider()
      : undefined);
  if (provider) await measure(provider);
  else console.log('webcrypto: this runtime lacks WebCrypto X25519; skipped');
} else {
  console.log('webcrypto: extension/crypto/webcrypto-provider.ts not present; skipped');
}
