// Test support for the background's unit tests (Node only, never bundled): the real key
// directory on a loopback port, an in-memory storage.session, simulated profiles and senders.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fakeBrowser } from 'wxt/testing';
import { createDirectory, type LimitOptions } from '../../key-directory/app';
import { createNodeListener } from '../../key-directory/node-listener';
import { generateVrfKey } from '../../key-directory/store-rows';
import { openTestSqlite, testSigner } from '../../key-directory/testing';
import type { DirectorySigner } from '../../key-directory/signer';
import type { DirectoryStore } from '../../key-directory/store';
import {
  ALLOWED_SENDERS,
  type PageBlockResult,
  type PageConversation,
  type ReaderView,
} from '../messaging/messages';
import type { MessageSenderLike } from './sender';
import type { SessionArea } from './lock';
import type { ScriptingApi } from './site-scripts';
import { createHandlers } from './handlers';
import { createRouter } from './router';
import { VeilService, type ServiceOptions } from './veil-service';

/** scrypt cost for tests: the real default (2^17) takes about a second per derivation. */
export const FAST_SCRYPT = { log2N: 10, r: 8, p: 1 };

/** storage.session as the browser keeps it: JSON values, in memory. */
export class MemorySession implements SessionArea {
  private data = new Map<string, string>();
  async get(key: string): Promise<Record<string, unknown>> {
    const v = this.data.get(key);
    return v === undefined ? {} : { [key]: JSON.parse(v) as unknown };
  }
  async set(items: Record<string, unknown>): Promise<void> {
    for (const [k, v] of Object.entries(items)) this.data.set(k, JSON.stringify(v));
  }
  async remove(key: string): Promise<void> {
    this.data.delete(key);
  }
  /** What a browser restart does. */
  clear(): void {
    this.data.clear();
  }
  get size(): number {
    return this.data.size;
  }
}

export interface RunningDirectory {
  url: string;
  signer: DirectorySigner;
  /** Its store, for tests that play the directory's operator (or an attacker inside it). */
  store: DirectoryStore;
  close(): Promise<void>;
}

/**
 * The real directory (SQLite in a temp dir, production listener) on 127.0.0.1 with an
 * ephemeral port. Rate limits off: tests publish many identities from one address.
 */
const vrfSeeds = new WeakMap<object, Uint8Array>();

export async function startDirectory(
  signer = testSigner(),
  limits: Omit<LimitOptions, 'rates'> = {},
  clock: () => number = Date.now,
): Promise<RunningDirectory> {
  const opened = await openTestSqlite();
  // Directories started with one signer play one directory (a fork of its log): one VRF key too.
  const vrfSeed = vrfSeeds.get(signer) ?? generateVrfKey();
  vrfSeeds.set(signer, vrfSeed);
  await opened.store.loadOrCreateVrfKey(() => vrfSeed);
  const directory = createDirectory({
    store: opened.store,
    clock,
    signer,
    limits: { ...limits, rates: null },
    log: () => undefined,
  });
  const server: Server = createServer(createNodeListener(directory));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    signer,
    store: opened.store,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await opened.cleanup();
    },
  };
}

let profiles = 0;

/** A fresh profile: its own database and storage.session. */
export interface TestProfile {
  name: string;
  session: MemorySession;
  service: VeilService;
  /**
   * Sends as an extension page of this profile (or as `sender`); resolves with the Envelope. A
   * frame message without a key gets its token's, as our frame would (withFrameKey).
   */
  send(message: unknown, sender?: MessageSenderLike): Promise<unknown>;
  /** Sends as an extension page and unwraps the value (throws with the code otherwise). */
  call<T = Record<string, unknown>>(message: Record<string, unknown>): Promise<T>;
  /** The same profile after the MV3 worker was stopped: new instances over the same storage. */
  restartWorker(): TestProfile;
  /** After the browser quit: storage.session is gone. */
  restartBrowser(): TestProfile;
}

export function extensionPageSender(path = '/options.html'): MessageSenderLike {
  return { id: fakeBrowser.runtime.id, url: fakeBrowser.runtime.getURL(path) };
}

export function contentScriptSender(url = 'https://chat.example/room/1'): MessageSenderLike {
  return { id: fakeBrowser.runtime.id, url, origin: new URL(url).origin };
}

export class ReplyError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** A content script in the top frame of tab `tabId`, as the browser reports it. */
export function tabContentScriptSender(
  tabId: number,
  url = 'https://chat.example/room',
): MessageSenderLike {
  return { ...contentScriptSender(url), tab: { id: tabId }, frameId: 0 };
}

/** Our reader or composer frame inside tab `tabId`. */
export function frameSender(page: 'reader' | 'composer', tabId: number): MessageSenderLike {
  return {
    id: fakeBrowser.runtime.id,
    url: fakeBrowser.runtime.getURL(`/${page}.html`) + '#x',
    tab: { id: tabId },
    frameId: 3,
  };
}

/** The frame messages (they carry the frame's key): the ones only Veil's frames may send. */
const FRAME_MESSAGES = new Set(
  Object.entries(ALLOWED_SENDERS)
    .filter(([, who]) => (who as readonly string[]).includes('frame'))
    .map(([type]) => type),
);
/**
 * Keys the background issued with each token, as the content script keeps them: callAs hands a
 * frame message without a `key` its token's key (a test of a wrong key passes its own).
 */
const issuedKeys = new Map<string, string>();

function noteKeys(value: unknown): void {
  for (const item of Array.isArray(value) ? value : [value]) {
    const { token, key } = (item ?? {}) as { token?: unknown; key?: unknown };
    if (typeof token === 'string' && typeof key === 'string') issuedKeys.set(token, key);
  }
}

/** The key issued with `token` (what the content script would hand its frame). */
export function keyOf(token: string): string {
  const key = issuedKeys.get(token);
  if (!key) throw new Error(`no key was issued for ${token}`);
  return key;
}

/**
 * `message` as our own frame sends it: a frame message without a `key` gets its token's (or,
 * for a token never issued, a well-formed one that opens nothing).
 */
export function withFrameKey(message: unknown): unknown {
  const m = message as Record<string, unknown> | null;
  if (typeof m !== 'object' || m === null || !FRAME_MESSAGES.has(String(m.type))) return message;
  if (m.key !== undefined || typeof m.token !== 'string') return message;
  return { ...m, key: issuedKeys.get(m.token) ?? 'A'.repeat(22) };
}

/** Page messages a content script sends only where the user turned Veil on. */
const SITE_MESSAGES = new Set(['pageDecrypt', 'registerComposer']);
/** Profiles (by database name) whose sites the tests turn on themselves. */
const manualSites = new Set<string>();

/** This profile's tests turn sites on themselves (callAs leaves Settings → Sites alone). */
export function manageSitesManually(p: TestProfile): TestProfile {
  manualSites.add(p.name);
  return p;
}

/**
 * Sends `message` as `sender` and unwraps the value; throws ReplyError with the code. A content
 * script's page message first turns its site on in the profile's settings, as the user would
 * have (unless the profile manages sites itself).
 */
export async function callAs<T>(
  p: TestProfile,
  sender: MessageSenderLike,
  message: Record<string, unknown>,
): Promise<T> {
  if (SITE_MESSAGES.has(String(message.type)) && sender.tab && !manualSites.has(p.name)) {
    const host = new URL(sender.url ?? '').host;
    const { enabledSites } = await p.call<{ enabledSites: string[] }>({ type: 'getSettings' });
    if (!enabledSites.includes(host))
      await p.call({ type: 'setSettings', enabledSites: [...enabledSites, host] });
  }
  const reply = (await p.send(message, sender)) as {
    ok: boolean;
    value?: T;
    error?: { code: string; message: string };
  };
  if (!reply.ok) throw new ReplyError(reply.error!.code, reply.error!.message);
  return reply.value as T;
}

/**
 * Reads an armored message the way the product does: the content script of tab `tabId` hands
 * it in (pageDecrypt), then that tab's reader frame reads its token (readMessage). The view
 * without the security phrase every reader gets (page.test.ts checks that one).
 */
export async function readOnPage(
  p: TestProfile,
  page: string | PageConversation,
  armored: string,
  tabId = 1,
): Promise<ReaderView> {
  const conversation = typeof page === 'string' ? { context: page } : page;
  const [block] = await callAs<PageBlockResult[]>(p, tabContentScriptSender(tabId), {
    type: 'pageDecrypt',
    ...conversation,
    blocks: [{ armored }],
  });
  const { phrase: _phrase, ...view } = await callAs<ReaderView>(p, frameSender('reader', tabId), {
    type: 'readMessage',
    token: block!.token,
  });
  return view;
}

/** `browser.scripting`'s registrations, in memory. */
export class MemoryScripting implements ScriptingApi {
  readonly scripts = new Map<string, { id: string; js: string[]; matches: string[] }>();
  async getRegisteredContentScripts() {
    return [...this.scripts.values()].map((s) => structuredClone(s));
  }
  async registerContentScripts(scripts: { id: string; js: string[]; matches: string[] }[]) {
    // Like the browser: one duplicate id and nothing is registered.
    if (scripts.some((s) => this.scripts.has(s.id))) throw new Error('Duplicate script ID');
    for (const { id, js, matches } of scripts) this.scripts.set(id, { id, js, matches });
  }
  async unregisterContentScripts({ ids }: { ids: string[] }) {
    if (ids.some((id) => !this.scripts.has(id))) throw new Error('Nonexistent script ID');
    for (const id of ids) this.scripts.delete(id);
  }
}

export function makeProfile(
  options: ServiceOptions = {},
  existing?: { name: string; session: MemorySession },
): TestProfile {
  const name = existing?.name ?? `veil-test-${process.pid}-${++profiles}`;
  const session = existing?.session ?? new MemorySession();
  let service: VeilService | undefined;
  const getService = async () =>
    (service ??= await VeilService.create({
      dbName: name,
      session,
      lockScrypt: FAST_SCRYPT,
      backupScrypt: FAST_SCRYPT,
      scripting: new MemoryScripting(),
      ...options,
    }));
  const route = createRouter(createHandlers(getService, '0.0.0-test'), fakeBrowser.runtime);
  const profile: TestProfile = {
    name,
    session,
    get service() {
      if (!service) throw new Error('no message was sent yet');
      return service;
    },
    send: async (message, sender = extensionPageSender()) => {
      const reply = await route(withFrameKey(message), sender);
      const type = (message as { type?: unknown } | null)?.type;
      if ((type === 'pageDecrypt' || type === 'registerComposer') && 'value' in reply)
        noteKeys(reply.value);
      return reply;
    },
    call: <T>(message: Record<string, unknown>) =>
      callAs<T>(profile, extensionPageSender(), message),
    restartWorker: () => makeProfile(options, { name, session }),
    restartBrowser: () => {
      session.clear();
      return makeProfile(options, { name, session });
    },
  };
  // Open the service eagerly so `profile.service` is usable right away.
  void getService();
  return profile;
}

/** Resolves once the profile's service exists. */
export async function ready(p: TestProfile): Promise<TestProfile> {
  await p.send({ type: 'getSettings' });
  return p;
}
