// Key directories that lie, for tests (Node only; never shipped). Each is the real directory app
// (key-directory/app.ts, SQLite in a temp dir) on a 127.0.0.1 port, with the lie added in front:
//
//  - startKeySwapDirectory: at the first lookup of an armed handle (identity, bundle or history)
//    it logs a rotation of that handle to an attacker's key and serves it. The swap is in the
//    one log everybody sees, so the inclusion proof verifies for the victim's contact; the
//    handle's owner catches it by monitoring the log (extension/background/log-monitor.ts).
//  - startSplitViewDirectory: two directories under one signing key, served at `<url>/a` and
//    `<url>/b`. Writes to either are applied to both (same bytes, same clock), except the
//    attacker's key swap, which only view B gets. Each view is a consistent log on its own;
//    comparing heads across them (extension/background/head-gossip.ts) shows the split.
//
// Unit tests use them in-process; browser tests point one profile at `/a` and another at `/b`
// (normalizeDirectoryUrl keeps a path). close() stops the server and deletes the databases.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { type Directory, DEFAULT_ORIGIN, createDirectory } from '../../key-directory/app';
import { keyFingerprint, safetyNumberHalf } from '../../key-directory/fingerprint';
import {
  createSigner,
  generateDirectoryKey,
  type DirectorySigner,
} from '../../key-directory/signer';
import type {
  DirectoryStore,
  OneTimePrekeyRecord,
  SignedPrekeyRecord,
} from '../../key-directory/store';
import { generateVrfKey } from '../../key-directory/store-rows';
import { type OpenedStore, openTestSqlite, writeContext } from '../../key-directory/testing';
import { signedPrekeyMessage } from '../../extension/protocol/directory-request';

/** The keys an attacker publishes under someone else's handle (public halves only). */
export interface AttackerBundle {
  identityKey: Uint8Array;
  signedPrekey: SignedPrekeyRecord;
  oneTimePrekeys: OneTimePrekeyRecord[];
}

/**
 * A fresh attacker: an Ed25519 identity and prekeys. The secret identity key is returned so a
 * test can sign as the attacker; pass a Veil's `publicBundle()` instead to read what victims
 * then encrypt to it.
 */
export function makeAttacker(): AttackerBundle & { identitySecretKey: Uint8Array } {
  const identitySecretKey = ed25519.utils.randomSecretKey();
  const spk = x25519.getPublicKey(x25519.utils.randomSecretKey());
  return {
    identitySecretKey,
    identityKey: ed25519.getPublicKey(identitySecretKey),
    signedPrekey: {
      id: 1,
      publicKey: spk,
      signature: ed25519.sign(signedPrekeyMessage(1, spk), identitySecretKey),
    },
    oneTimePrekeys: Array.from({ length: 5 }, (_, i) => ({
      id: i + 1,
      publicKey: x25519.getPublicKey(x25519.utils.randomSecretKey()),
    })),
  };
}

/**
 * Rotates `handle` to the attacker's key straight in the store (no signature by the owner:
 * this is what a lying directory can do) and returns the new entry's log index, or undefined
 * when the handle holds no identity.
 */
export async function logKeySwap(
  store: DirectoryStore,
  signer: DirectorySigner,
  handle: string,
  attacker: AttackerBundle,
  now = Date.now(),
): Promise<number | undefined> {
  const current = await store.getIdentity(handle);
  if (!current) return undefined;
  const result = await store.publish(
    {
      handle,
      identityKey: attacker.identityKey,
      signedPrekey: attacker.signedPrekey,
      oneTimePrekeys: attacker.oneTimePrekeys,
      fingerprint: keyFingerprint(attacker.identityKey),
      safetyNumberHalf: safetyNumberHalf(handle, attacker.identityKey),
      expectedCurrentKey: current.identityKey,
      maxStoredOneTimePrekeys: 1000,
    },
    writeContext(signer, now),
  );
  if (!result.ok) throw new Error(`hostile directory: the swap was refused (${result.reason})`);
  return result.logIndex;
}

interface Served {
  url: string;
  close(): Promise<void>;
}

async function serve(handler: (req: Request) => Promise<Response>): Promise<Served> {
  const server: Server = createServer(getRequestListener(handler));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A directory key shared by every view, seeded into each store as its own. */
async function sharedSigner(stores: DirectoryStore[], origin: string): Promise<DirectorySigner> {
  const seed = generateDirectoryKey();
  // Every view is the one directory: one log key and one VRF key (handle labels).
  const vrfSeed = generateVrfKey();
  for (const store of stores) {
    await store.loadOrCreateDirectoryKey(() => seed, Date.now());
    await store.loadOrCreateVrfKey(() => vrfSeed);
  }
  return createSigner(seed, origin);
}

function directoryOn(store: DirectoryStore, signer: DirectorySigner, clock: () => number) {
  return createDirectory({
    store,
    clock,
    signer,
    limits: { rates: null },
    clientIp: () => 'hostile-test',
    log: () => undefined,
  });
}

export interface KeySwapDirectory {
  /** `http://127.0.0.1:<port>` */
  url: string;
  signer: DirectorySigner;
  attacker: AttackerBundle;
  /** The next GET of `handle`'s identity, bundle or history logs and serves the swap first. */
  arm(handle: string): void;
  /** The swaps done so far. */
  readonly swaps: readonly { handle: string; logIndex: number }[];
  store: DirectoryStore;
  close(): Promise<void>;
}

export async function startKeySwapDirectory(
  options: { attacker?: AttackerBundle; origin?: string } = {},
): Promise<KeySwapDirectory> {
  const opened = await openTestSqlite();
  const signer = await sharedSigner([opened.store], options.origin ?? DEFAULT_ORIGIN);
  const directory = directoryOn(opened.store, signer, Date.now);
  const attacker = options.attacker ?? makeAttacker();
  const armed = new Set<string>();
  const swaps: { handle: string; logIndex: number }[] = [];
  const served = await serve(async (req) => {
    const m = /^\/v1\/identities\/([^/]+)(\/bundle|\/history)?$/.exec(new URL(req.url).pathname);
    const handle = m?.[1];
    if (req.method === 'GET' && handle !== undefined && armed.delete(handle)) {
      const logIndex = await logKeySwap(opened.store, signer, handle, attacker);
      if (logIndex !== undefined) swaps.push({ handle, logIndex });
    }
    return directory.app.fetch(req);
  });
  return {
    url: served.url,
    signer,
    attacker,
    arm: (handle) => void armed.add(handle),
    swaps,
    store: opened.store,
    close: () => closeAll(served, [opened]),
  };
}

export interface SplitViewDirectory {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `${url}/a`: the honest view. */
  urlA: string;
  /** `${url}/b`: the view with the attacker's key swap. */
  urlB: string;
  signer: DirectorySigner;
  attacker: AttackerBundle;
  storeA: DirectoryStore;
  storeB: DirectoryStore;
  /**
   * Rotates `handle` to the attacker's key in view B only. With `balance`, view A gets an
   * entry for a throw-away handle at the same time, so both views keep the same size (then
   * the two roots differ at one size; without it, B runs one entry ahead until the next write
   * makes the views diverge).
   */
  swapInB(handle: string, options?: { balance?: boolean }): Promise<{ logIndex: number }>;
  close(): Promise<void>;
}

export async function startSplitViewDirectory(
  options: { attacker?: AttackerBundle; origin?: string } = {},
): Promise<SplitViewDirectory> {
  const a = await openTestSqlite();
  const b = await openTestSqlite().catch(async (e: unknown) => {
    await a.cleanup();
    throw e;
  });
  const signer = await sharedSigner([a.store, b.store], options.origin ?? DEFAULT_ORIGIN);
  // Both views log a mirrored write with the same time, so its entry is byte for byte equal.
  let frozen: number | undefined;
  const clock = () => frozen ?? Date.now();
  const views: Record<'a' | 'b', Directory> = {
    a: directoryOn(a.store, signer, clock),
    b: directoryOn(b.store, signer, clock),
  };
  const attacker = options.attacker ?? makeAttacker();
  let writes: Promise<unknown> = Promise.resolve();
  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = writes.then(fn);
    writes = run.catch(() => undefined);
    return run;
  };

  const served = await serve(async (req) => {
    const url = new URL(req.url);
    const m = /^\/(a|b)(\/.*)?$/.exec(url.pathname);
    if (!m)
      return Response.json(
        { error: { code: 'not-found', message: 'no such view' } },
        { status: 404 },
      );
    const view = m[1] as 'a' | 'b';
    const inner = new URL((m[2] ?? '/') + url.search, url.origin);
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS')
      return views[view].app.fetch(
        new Request(inner, { method: req.method, headers: req.headers }),
      );
    const body = new Uint8Array(await req.arrayBuffer());
    const copy = () =>
      new Request(inner, {
        method: req.method,
        headers: req.headers,
        body: body.length > 0 ? body : undefined,
      });
    return serialized(async () => {
      frozen = Date.now();
      try {
        const answers = {
          a: await views.a.app.fetch(copy()),
          b: await views.b.app.fetch(copy()),
        };
        return answers[view];
      } finally {
        frozen = undefined;
      }
    });
  });

  return {
    url: served.url,
    urlA: `${served.url}/a`,
    urlB: `${served.url}/b`,
    signer,
    attacker,
    storeA: a.store,
    storeB: b.store,
    swapInB: (handle, opts = {}) =>
      serialized(async () => {
        const now = Date.now();
        const logIndex = await logKeySwap(b.store, signer, handle, attacker, now);
        if (logIndex === undefined) throw new Error(`hostile directory: no identity ${handle}`);
        if (opts.balance) {
          const filler = makeAttacker();
          const result = await a.store.publish(
            {
              handle: `filler-${logIndex}`,
              identityKey: filler.identityKey,
              signedPrekey: filler.signedPrekey,
              oneTimePrekeys: [],
              fingerprint: keyFingerprint(filler.identityKey),
              safetyNumberHalf: safetyNumberHalf(`filler-${logIndex}`, filler.identityKey),
              expectedCurrentKey: null,
              maxStoredOneTimePrekeys: 1000,
            },
            writeContext(signer, now),
          );
          if (!result.ok) throw new Error('hostile directory: the filler entry was refused');
        }
        return { logIndex };
      }),
    close: () => closeAll(served, [a, b]),
  };
}

async function closeAll(served: Served, stores: OpenedStore[]): Promise<void> {
  await served.close();
  await Promise.all(stores.map((s) => s.cleanup()));
}
