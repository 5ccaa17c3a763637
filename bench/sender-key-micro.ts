// Micro-benchmark of group (sender-key) decrypt in Node: `npx tsx bench/sender-key-micro.ts`.
// Not the Chromium figure of `npm run bench`; it isolates sender-key.ts from framing and armor.
import { existsSync } from 'node:fs';
import { sha256 } from '@noble/hashes/sha2.js';
import type { CryptoProvider } from '../extension/protocol/crypto/provider';
import { nobleProvider } from '../extension/protocol/crypto/noble';
import {
  createSenderKey,
  distributionRecord,
  groupDecrypt,
  groupEncrypt,
  parseDistribution,
  type GroupContext,
} from '../extension/protocol/sender-key';
import { messageBytes } from './common';

const MESSAGES = 2000;
const WARMUP = 300;
const RUNS = 3;
/** A 200-byte text framed and padded as docs/protocol.md says comes to 224 bytes. */
const PADDED_LENGTH = 224;

function padded(i: number): Uint8Array {
  const out = new Uint8Array(PADDED_LENGTH);
  const text = messageBytes(i);
  out.set(text);
  out[text.length] = 0x80;
  return out;
}

const ctxHash = sha256(new TextEncoder().encode('Veil context v1bench:#room'));
const ctx: GroupContext = {
  ctxHash,
  ctxTag: ctxHash.slice(0, 4),
  senderIdentityKey: new Uint8Array(32).fill(7),
};

/** Encrypts `n` messages, then times decrypting them in order with a fresh receiving state. */
async function decryptRun(crypto: CryptoProvider, n: number) {
  let own = await createSenderKey(crypto);
  let state = parseDistribution(distributionRecord(own));
  const envelopes: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const r = await groupEncrypt(crypto, own, padded(i), ctx);
    own = r.own;
    envelopes.push(r.envelope);
  }
  let ms = 0;
  for (const envelope of envelopes) {
    const t0 = performance.now();
    const d = await groupDecrypt(crypto, state, envelope, ctx);
    ms += performance.now() - t0;
    state = d.received;
  }
  if (state.iteration !== n) throw new Error('benchmark self-check failed: not every message read');
  return { ms, msgsPerSec: (n / ms) * 1000, envelopeBytes: envelopes[0]!.length };
}

async function measure(crypto: CryptoProvider): Promise<void> {
  await decryptRun(crypto, WARMUP);
  const runs = [];
  for (let r = 0; r < RUNS; r++) runs.push(await decryptRun(crypto, MESSAGES));
  runs.sort((a, b) => a.msgsPerSec - b.msgsPerSec);
  const mid = runs[runs.length >> 1]!;
  console.log(
    `${crypto.name.padEnd(10)} decrypt ${MESSAGES} msgs: ${mid.ms.toFixed(1)} ms, ` +
      `${Math.round(mid.msgsPerSec)} msgs/s (median of ${RUNS}; ` +
      `range ${Math.round(runs[0]!.msgsPerSec)}–${Math.round(runs.at(-1)!.msgsPerSec)}), ` +
      `envelope ${mid.envelopeBytes} B for ${PADDED_LENGTH} B padded plaintext`,
  );
}

await measure(nobleProvider);
const webcryptoPath = new URL('../extension/crypto/webcrypto-provider.ts', import.meta.url);
if (existsSync(webcryptoPath)) {
  const { createWebCryptoProvider, webCryptoSupported } = await import(webcryptoPath.href);
  if (await webCryptoSupported()) await measure(createWebCryptoProvider());
  else console.log('webcrypto: this runtime lacks WebCrypto X25519/Ed25519; skipped');
} else {
  console.log('webcrypto: extension/crypto/webcrypto-provider.ts not present; skipped');
}
