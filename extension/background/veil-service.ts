// The background's one protocol instance and what it stands on (background only): the
// IndexedDB key store, the passphrase lock, the directory client and the Veil API over them.
// Nothing here holds state that exists only in memory: a restarted MV3 worker rebuilds it all
// from IndexedDB and storage.session on the first message. One instance per worker, so every
// protocol operation goes through one Veil queue (two handlers cannot race on a session).
import { contactDeviceTrust } from './linked-devices';
import { browser } from 'wxt/browser';
import { bestProvider } from '../crypto/webcrypto-provider';
import type { PageHealth } from '../messaging/messages';
import type {
  ContactView,
  IdentityView,
  Settings,
  StatusReply,
  ToContentMessage,
  ToFrameMessage,
} from '../messaging/messages';
import type { CryptoProvider } from '../protocol/crypto/provider';
import { toBase64Url } from '../protocol/encoding';
import { VeilError } from '../protocol/errors';
import { identityDhPublic } from '../protocol/identity';
import { fingerprintHalf } from '../protocol/safety-number';
import type { SignedTreeHead } from '../protocol/transparency';
import { Veil, type Contact } from '../protocol/veil';
import { DirectoryClient, type DirectoryClientOptions } from './directory-client';
import { BackgroundError } from './errors';
import { Gate } from './gate';
import { HeadGossip, type GossipResult } from './head-gossip';
import { KeyStore } from './key-store';
import { LockManager, type ScryptParams, type SessionArea } from './lock';
import { LogAlarms } from './log-alarms';
import { LogMonitor } from './log-monitor';
import { MemoryCaches } from './memory-caches';
import { FairQueue } from './fair-queue';
import { ReadWatch } from './read-watch';
import { PageHistoryTasks } from './page-history';
import { OrderTracker } from './order-tracker';
import { PageTokens } from './page-tokens';
import type { ReaderViewDeps } from './reader-view';
import { SenderTrust, type SenderRecord } from './sender-trust';
import { SecretNames } from './secret-names';
import { SiteScripts, type ScriptingApi } from './site-scripts';
import { SECURITY_PHRASE_KEY } from './schema';

/** Sends a message to one frame of a tab's content script (`tabs.sendMessage`). */
export type TabMessenger = (
  tabId: number,
  frameId: number,
  message: ToContentMessage,
) => Promise<unknown>;

/** Where the directory runs when the user has not chosen one (`npm run directory`). */
export const DEFAULT_DIRECTORY_URL = 'http://127.0.0.1:8787';
export const DEFAULT_SETTINGS: Settings = { directoryUrl: DEFAULT_DIRECTORY_URL, enabledSites: [] };

/** The public view of our identity, readable while locked (table `state`, key 'profile'). */
export interface Profile {
  handle: string;
  /** Ed25519 public key. */
  identityKey: Uint8Array;
  /** Our 30-digit safety-number half. */
  fingerprint: string;
  createdAt: number;
  published?: {
    url: string;
    logIndex: number;
    sequence: number;
    at: number;
    /** Hex digests of the device lists we published there (the log watch knows them as ours). */
    deviceLists?: string[];
  };
  /** A browser linked into the account (`identityKey` is then the account's): its id and key. */
  device?: { id: number; key: Uint8Array };
}

export interface ServiceOptions {
  /** IndexedDB name; one per simulated profile in tests. */
  dbName?: string;
  session?: SessionArea;
  /** How to reach a tab's content script (tests record the calls). */
  tabs?: TabMessenger;
  fetch?: DirectoryClientOptions['fetch'];
  crypto?: CryptoProvider;
  now?: () => number;
  /** How to tell every open frame something (runtime.sendMessage; tests record the calls). */
  tellFrames?: (message: ToFrameMessage) => Promise<void>;
  /** `browser.scripting` (tests pass a memory one). */
  scripting?: ScriptingApi;
  /** scrypt cost of the lock and of backups (tests lower them). */
  lockScrypt?: ScryptParams;
  backupScrypt?: ScryptParams;
}

const FINGERPRINT_CACHE_SIZE = 2000;

export class VeilService {
  readonly gate = new Gate();
  // Derived values only (a 30-digit half costs 5,200 SHA-512 rounds): safe to lose.
  private readonly halves = new Map<string, string>();
  /** What each tab's content script last said it finds on its page (the popup shows it). */
  readonly tabHealth = new Map<number, { host: string; health: PageHealth }>();
  /** The picker the user started per tab ("Teach Veil this site"), until it saves. */
  readonly picks = new Map<number, { token: string; at: number }>();
  /** Long histories each tab is decrypting (counts only): 'page-history' tasks. */
  readonly pageHistory = new PageHistoryTasks();
  // Session set-ups in flight, so racing sends to a new contact share one bundle and session.
  private readonly starting = new Map<string, Promise<void>>();
  /** Senders of messages decrypted per conversation context: recipient suggestions only. */
  readonly seenSenders = new Map<string, Set<string>>();
  /** Blocks each tab shows out of their sealed order (memory; rebuilt from token records). */
  readonly order = new OrderTracker();
  /** Reader frames that got their message (a page's next batch may wait for them). */
  readonly readWatch = new ReadWatch();
  /** Page decrypt jobs, taking turns between tabs. */
  readonly fair = new FairQueue();
  /** What the directory's log says of the keys messages were sealed with. */
  readonly senders: SenderTrust = new SenderTrust({
    history: async (handle) => {
      const { directoryUrl } = await this.settings();
      return this.directory.history(directoryUrl, handle);
    },
    directoryUrl: async () => (await this.settings()).directoryUrl,
    getContact: (handle) => this.veil.getContact(handle),
    flagKeyChange: async (handle, key) => void (await this.veil.addContact(handle, key)),
    read: (key) => this.store.get<SenderRecord>('senders', key),
    write: (key, record) =>
      this.store.commit([{ op: 'put', table: 'senders', key, value: record }]),
    now: () => this.now(),
    deviceTrust: async (handle, key) => {
      const { directoryUrl } = await this.settings();
      return contactDeviceTrust(this, directoryUrl, handle, key);
    },
  });
  private logWatch?: { alarms: LogAlarms; monitor: LogMonitor; gossip: HeadGossip };

  private constructor(
    readonly store: KeyStore,
    readonly lock: LockManager,
    readonly veil: Veil,
    readonly directory: DirectoryClient,
    readonly crypto: CryptoProvider,
    readonly now: () => number,
    readonly backupScrypt: ScryptParams | undefined,
    /** Tokens of the reader and composer frames in host pages. */
    readonly pages: PageTokens,
    readonly tabs: TabMessenger,
    /** The content script's registrations, one per enabled site. */
    readonly sites: SiteScripts,
    readonly tellFrames: (message: ToFrameMessage) => Promise<void>,
    readonly session: SessionArea,
  ) {
    this.names = new SecretNames(store, (n) => crypto.randomBytes(n));
    this.caches.add('record names key', {
      size: () => this.names.held(),
      clear: () => this.names.forget(),
    });
    this.caches.addCollection('fingerprint halves', this.halves);
    this.caches.addCollection('what each tab finds on its page', this.tabHealth);
    this.caches.addCollection('pickers started', this.picks);
    this.caches.addCollection('page histories being decrypted', this.pageHistory.byTab);
    this.caches.addCollection('sessions being set up', this.starting);
    this.caches.addCollection('senders seen per conversation', this.seenSenders);
    this.caches.add('page order', {
      size: () => this.order.size(),
      clear: () => this.order.clear(),
    });
    this.caches.add('frames read', {
      size: () => this.readWatch.size(),
      clear: () => this.readWatch.clear(),
      holds: this.readWatch.holds,
    });
    this.caches.add('page tokens', {
      size: () => this.pages.memorySize(),
      clear: () => this.pages.forgetMemory(),
    });
    this.caches.add('sender look-up budgets', {
      size: () => this.senders.memorySize(),
      clear: () => this.senders.clearMemory(),
    });
    this.caches.add('conversation facts', {
      size: () => this.veil.derivedSize(),
      clear: () => this.veil.forgetDerived(),
    });
    const keys = this.crypto as { clearKeyCache?: () => void; keyCacheSize?: () => number };
    this.caches.add('imported crypto keys', {
      size: () => keys.keyCacheSize?.() ?? 0,
      clear: () => keys.clearKeyCache?.(),
    });
  }

  /** Every cache held in memory (memory-caches.ts): delete-everything empties them all. */
  readonly caches = new MemoryCaches();
  /** Opaque record names for what a key would give away (secret-names.ts). */
  readonly names: SecretNames;

  static async create(opts: ServiceOptions = {}): Promise<VeilService> {
    const now = opts.now ?? Date.now;
    const store = new KeyStore({ name: opts.dbName });
    const session = opts.session ?? browserSessionArea();
    const lock = new LockManager({
      store,
      session,
      now,
      scrypt: opts.lockScrypt,
    });
    store.keySource = lock;
    const crypto = opts.crypto ?? (await bestProvider());
    const veil = await Veil.create({ store, crypto, clock: now });
    const directory = new DirectoryClient({
      store,
      fetch: opts.fetch,
      now,
      randomBytes: (n) => crypto.randomBytes(n),
    });
    const pages = new PageTokens(session, (n) => crypto.randomBytes(n));
    const tabs = opts.tabs ?? browserTabMessenger;
    return new VeilService(
      store,
      lock,
      veil,
      directory,
      crypto,
      now,
      opts.backupScrypt,
      pages,
      tabs,
      new SiteScripts(
        opts.scripting ?? (browser.scripting as unknown as ScriptingApi),
        // Firefox's match patterns take no port (runtime.getBrowserInfo is Firefox's only).
        typeof (browser.runtime as { getBrowserInfo?: unknown }).getBrowserInfo !== 'function',
      ),
      opts.tellFrames ?? browserTellFrames,
      session,
    );
  }

  // ---- settings and profile ----

  async settings(): Promise<Settings> {
    const s = await this.store.get<Settings>('settings', 'settings');
    return { ...DEFAULT_SETTINGS, ...s, enabledSites: [...(s?.enabledSites ?? [])] };
  }

  /** Registers the content script for the enabled sites, and for no other. */
  /** A closed tab's page report and picker go with it. */
  forgetTab(tabId: number): void {
    this.tabHealth.delete(tabId);
    this.picks.delete(tabId);
    this.pageHistory.forget(tabId);
  }

  async syncSites(): Promise<void> {
    await this.sites.sync((await this.settings()).enabledSites);
  }

  async profile(): Promise<Profile | undefined> {
    const p = await this.store.get<Profile>('state', 'profile');
    if (p) return p;
    // The identity is committed before its profile; a worker stopped in between leaves an
    // identity without one. Rebuild it (needs the lock open, as it reads the identity).
    if (!(await this.store.keys('identity')).includes('self')) return undefined;
    if ((await this.lock.state()).locked) return undefined;
    const id = await this.veil.getIdentity();
    if (!id) return undefined;
    const profile = this.newProfile(id.handle, id.identityKey);
    await this.store.commit([{ op: 'put', table: 'state', key: 'profile', value: profile }]);
    return profile;
  }

  async requireProfile(): Promise<Profile> {
    const p = await this.profile();
    if (!p) throw new BackgroundError('no-identity', 'create an identity first');
    return p;
  }

  newProfile(handle: string, identityKey: Uint8Array): Profile {
    return {
      handle,
      identityKey: identityKey.slice(),
      fingerprint: this.half(handle, identityKey),
      createdAt: this.now(),
    };
  }

  /** The 30-digit safety-number half of (handle, Ed25519 key). */
  half(handle: string, identityKey: Uint8Array): string {
    const id = `${handle}:${toBase64Url(identityKey)}`;
    let half = this.halves.get(id);
    if (half === undefined) {
      half = fingerprintHalf({ id: handle, identityKey: identityDhPublic(identityKey) });
      if (this.halves.size >= FINGERPRINT_CACHE_SIZE) this.halves.clear();
      this.halves.set(id, half);
    }
    return half;
  }

  /** Starts a session with `handle` from a checked directory bundle, unless one exists. */
  ensureSession(handle: string, directoryUrl: string): Promise<void> {
    const key = `${directoryUrl} ${handle}`;
    let pending = this.starting.get(key);
    if (!pending) {
      pending = (async () => {
        // A session to send on, or one the contact started with the pinned key (adopted).
        const state = await this.veil.sendable(handle);
        if (state === 'key-changed')
          throw new VeilError(
            'untrusted-identity',
            'the contact key changed: acknowledge it first',
          );
        if (state === 'ready') return;
        const { bundle } = await this.directory.bundle(directoryUrl, handle);
        await this.veil.startSession(bundle);
      })().finally(() => this.starting.delete(key));
      this.starting.set(key, pending);
    }
    return pending;
  }

  /**
   * What reader views are computed with (reader-view.ts), for one request: each sender's contact
   * is read once per request, by the views and the sender judgement alike, not twice per block
   * (each read is an IndexedDB transaction and, under the lock, an AEAD open). Only a judgement
   * that flags a key change (which writes the contact) makes it read again.
   */
  readerDeps(): ReaderViewDeps {
    const contacts = new Map<string, Promise<Contact | undefined>>();
    const getContact = (handle: string) => {
      let contact = contacts.get(handle);
      if (!contact) {
        contact = this.veil.getContact(handle);
        contacts.set(handle, contact);
      }
      return contact;
    };
    return {
      getContact,
      judge: (handle, key, trust, opts) =>
        this.senders.judge(handle, key, trust, {
          ...opts,
          getContact,
          changed: (h) => contacts.delete(h),
        }),
      fingerprint: (handle, key) => this.half(handle, key),
    };
  }

  /**
   * Every contact, by handle: Veil.listContacts, but in one IndexedDB transaction (the protocol's
   * store interface reads one record per call, each its own transaction).
   */
  async listContacts(): Promise<Contact[]> {
    const rows = await this.store.entries<Contact | undefined>('contacts');
    const contacts = rows.flatMap(([, c]) => (c ? [c] : []));
    return contacts.sort((a, b) => a.handle.localeCompare(b.handle));
  }

  // ---- views ----

  async identityView(profile?: Profile): Promise<IdentityView | undefined> {
    const p = profile ?? (await this.profile());
    if (!p) return undefined;
    const { directoryUrl } = await this.settings();
    // A linked browser publishes its device's prekeys, never the account's identity.
    const published =
      p.device !== undefined || (p.published !== undefined && p.published.url === directoryUrl);
    return {
      handle: p.handle,
      identityKey: toBase64Url(p.identityKey),
      fingerprint: p.fingerprint,
      published,
      ...(published && p.published ? { logIndex: p.published.logIndex } : {}),
    };
  }

  contactView(c: Contact): ContactView {
    const view: ContactView = {
      handle: c.handle,
      status: c.pendingKey ? 'key-changed' : c.verified ? 'verified' : 'unverified',
      identityKey: toBase64Url(c.identityKey),
      fingerprint: this.half(c.handle, c.identityKey),
      firstSeen: c.firstSeen,
    };
    if (c.pendingKey) view.pendingFingerprint = this.half(c.handle, c.pendingKey);
    if (c.devices && c.devices.length > 1) view.devices = c.devices.length;
    if (c.devicesChangedAt !== undefined) view.devicesChangedAt = c.devicesChangedAt;
    return view;
  }

  async status(): Promise<StatusReply> {
    const [lock, settings, identity, secretKeys] = await Promise.all([
      this.lock.state(),
      this.settings(),
      this.identityView(),
      this.store.keys('secrets'),
    ]);
    const reply: StatusReply = {
      locked: lock.locked,
      lockEnabled: lock.enabled,
      hasSecurityPhrase: secretKeys.includes(SECURITY_PHRASE_KEY),
      settings,
    };
    if (identity) reply.identity = identity;
    return reply;
  }

  // ---- the directory's log: own-handle monitor, gossiped heads, alarms ----

  /** Alarms, monitor and gossip check over this service's store and directory client. */
  get log(): { alarms: LogAlarms; monitor: LogMonitor; gossip: HeadGossip } {
    if (!this.logWatch) {
      const alarms = new LogAlarms(this.store);
      const { directory, now } = this;
      this.logWatch = {
        alarms,
        monitor: new LogMonitor({
          directory,
          alarms,
          now,
          profile: () => this.profile(),
          fingerprint: (handle, key) => this.half(handle, key),
        }),
        gossip: new HeadGossip({ directory, alarms, now }),
      };
    }
    return this.logWatch;
  }

  /**
   * Checks a signed tree head a contact sent (inside an encrypted message) against our view of
   * the directory; raises a split-view alarm when they cannot both be true. Off the decrypt
   * path: do not await it before showing the message. See head-gossip.ts.
   */
  checkGossipedHead(directoryUrl: string, head: SignedTreeHead): Promise<GossipResult> {
    return this.log.gossip.check(directoryUrl, head);
  }

  /** Forgets the in-memory caches, and the composers' drafts, after the store was wiped. */
  async afterWipe(): Promise<void> {
    // storage.session holds the data key, page tokens and drafts: all of it goes.
    await this.session.clear();
    this.caches.clearAll();
    await this.lock.reset();
    await this.sites.sync([]);
    await this.tellFrames({ type: 'veil:lock', locked: true });
  }
}

/** `browser.storage.session`, seen through the small interface the lock needs. */
export function browserSessionArea(): SessionArea {
  const area = browser.storage.session;
  return {
    get: (key) => area.get(key) as Promise<Record<string, unknown>>,
    set: (items) => area.set(items),
    remove: (key) => area.remove(key),
    clear: () => area.clear(),
  };
}

/** `browser.tabs.sendMessage` to one frame (needs no permission for our own content script). */
const browserTabMessenger: TabMessenger = (tabId, frameId, message) =>
  browser.tabs.sendMessage(tabId, message, { frameId });

/** `runtime.sendMessage` to every extension page; none open is not an error. */
const browserTellFrames = async (message: ToFrameMessage): Promise<void> => {
  await browser.runtime.sendMessage(message).catch(() => undefined);
};

let instance: Promise<VeilService> | undefined;

/** The worker's service if one was started: a closed tab need not start one to be forgotten. */
export function runningService(): Promise<VeilService> | undefined {
  return instance;
}

/** The worker's one service, created on first use (again after a worker restart). */
export function getService(): Promise<VeilService> {
  instance ??= VeilService.create().catch((e: unknown) => {
    instance = undefined;
    throw e;
  });
  return instance;
}
