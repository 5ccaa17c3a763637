// OpenPGP.js (what Mailvelope uses) as the other peer: Curve25519 keys (EdDSA signing primary,
// ECDH cv25519 encryption subkey), every message encrypted to the other party and signed,
// decrypted and its signature verified. Run alone: `npx tsx bench/openpgp-bench.ts`.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as openpgp from 'openpgp';
import {
  check,
  makeMessage,
  median,
  sizeStats,
  withDefaults,
  type BenchOptions,
  type LibraryResult,
} from './common';
import { isMain, optionsFromEnv, printResult } from './node-env';

interface Party {
  privateKey: openpgp.PrivateKey;
  publicKey: openpgp.PublicKey;
}

async function makeParty(name: string): Promise<Party> {
  const { privateKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ name, email: `${name}@example.org` }],
    format: 'object',
  });
  return { privateKey, publicKey: privateKey.toPublic() };
}

async function encrypt(from: Party, to: Party, text: string): Promise<string> {
  return openpgp.encrypt({
    message: await openpgp.createMessage({ text }),
    encryptionKeys: to.publicKey,
    signingKeys: from.privateKey,
    format: 'armored',
  });
}

/** The decrypt call: from the armored text to plaintext with a verified signature. */
async function decrypt(at: Party, from: Party, armored: string): Promise<string> {
  const { data, signatures } = await openpgp.decrypt({
    message: await openpgp.readMessage({ armoredMessage: armored }),
    decryptionKeys: at.privateKey,
    verificationKeys: from.publicKey,
    expectSigned: true,
  });
  await signatures[0]!.verified; // expectSigned already awaited it; keeps the intent explicit
  return data as string;
}

async function pingPong(
  alice: Party,
  bob: Party,
  messages: number,
  now: () => number,
): Promise<{ wallMs: number; decryptMs: number; sizes: number[] }> {
  const texts = Array.from({ length: messages }, (_, i) => makeMessage(i));
  const sizes: number[] = [];
  let decryptMs = 0;
  const t0 = now();
  for (let i = 0; i < messages; i++) {
    const [from, to] = i % 2 === 0 ? [alice, bob] : [bob, alice];
    const armored = await encrypt(from, to, texts[i]!);
    const d0 = now();
    const out = await decrypt(to, from, armored);
    decryptMs += now() - d0;
    sizes.push(armored.length);
    check(out === texts[i], `OpenPGP plaintext mismatch at ${i}`);
  }
  return { wallMs: now() - t0, decryptMs, sizes };
}

export function openpgpVersion(): string {
  const require = createRequire(import.meta.url);
  // The package's exports hide package.json; find it next to the resolved entry point.
  const entry = require.resolve('openpgp');
  const pkg = entry.slice(0, entry.lastIndexOf('/dist/')) + '/package.json';
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

export async function runOpenpgp(options: BenchOptions): Promise<LibraryResult> {
  const o = withDefaults(options);
  const result: LibraryResult = {
    id: 'openpgp-node',
    label: 'OpenPGP.js (Node)',
    runtime: `Node ${process.version}`,
    versions: { openpgp: openpgpVersion(), node: process.version },
    runs: o.runs,
    notes: [
      'Curve25519 keys (EdDSA + ECDH cv25519, v4); each message encrypted to the other party and signed; decrypt = readMessage + decrypt + verify.',
      'OpenPGP has no sessions or ratchet (no forward secrecy) and no sender keys: there is no group figure.',
    ],
  };
  const alice = await makeParty('alice');
  const bob = await makeParty('bob');
  await pingPong(alice, bob, o.warmupMessages, o.now);

  const pp: number[] = [];
  let sizes: number[] = [];
  for (let r = 0; r < o.runs; r++) {
    const run = await pingPong(alice, bob, o.pingPongMessages, o.now);
    pp.push(run.wallMs);
    if (r === 0) sizes = run.sizes;
  }
  const ppMs = median(pp);
  result.pingPong = {
    messages: o.pingPongMessages,
    ms: ppMs,
    msgsPerSec: (o.pingPongMessages / ppMs) * 1000,
  };
  const hist: number[] = [];
  for (let r = 0; r < o.runs; r++)
    hist.push((await pingPong(alice, bob, o.historyMessages, o.now)).decryptMs);
  result.decryptHistory = { messages: o.historyMessages, ms: median(hist) };
  // No pre-key message in OpenPGP: the first message is like any other.
  result.size = { unit: 'chars', first: sizes[0]!, ...sizeStats(sizes.slice(2)) };
  return result;
}

if (isMain(import.meta.url)) {
  try {
    printResult(await runOpenpgp(optionsFromEnv()));
  } catch (e) {
    console.error(e);
    process.exitCode = 1;
  }
}
