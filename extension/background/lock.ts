// The optional passphrase lock (background only). A random data key seals the secret tables'
// records (seal.ts); the passphrase, through scrypt, wraps that data key in the `state/lock`
// record. Unlocked means the data key sits in `storage.session`: memory-only, gone when the
// browser quits, kept across MV3 service-worker restarts, and not readable by content scripts.
// Locked means no secret record can be read or written, so nothing decrypts.
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { scryptAsync } from '@noble/hashes/scrypt.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { concatBytes, utf8ToBytes, wipe } from '../protocol/bytes';
import { fromBase64Url, toBase64Url } from '../protocol/encoding';
import { VeilError } from '../protocol/errors';
import { DEFAULT_SCRYPT } from '../protocol/backup';
import { BackgroundError } from './errors';
import { openStored, resealRecord, type DataKeySource, type KeyStore } from './key-store';

/** The part of `browser.storage.session` the lock uses (tests pass an in-memory one). */
export interface SessionArea {
  get(key: string): Promise<Record<string, unknown>>;
  set(items: Record<string, unknown>): Promise<void>;
  remove(key: string): Promise<void>;
  /** Everything in it (delete-everything). */
  clear(): Promise<void> | void;
}

export interface ScryptParams {
  log2N: number;
  r: number;
  p: number;
}

interface LockRecord {
  version: 1;
  /** Random id: a data key in storage.session is used only for the lock it belongs to. */
  id: string;
  kdf: ScryptParams;
  salt: Uint8Array;
  /** nonce (24) || XChaCha20-Poly1305(KEK, DEK) */
  wrapped: Uint8Array;
  createdAt: number;
}

const SESSION_KEY = 'veil.unlocked';
const LOCK_KEY = 'lock';
/**
 * Which set of sealed tables the records were last sealed for (`state`): a version that seals
 * more tables bumps it, and the next unlock seals what an older version left open, once.
 */
const SEALED_SET_KEY = 'sealedSet';
const SEALED_SET_VERSION = 3; // 2: contacts and directory look-ups sealed too; 3: named records
export const MIN_PASSPHRASE_LENGTH = 8;
// A stored record asking for more than this is refused (it could exhaust the worker's memory).
const MAX_LOG2N = 20;

export interface LockState {
  enabled: boolean;
  locked: boolean;
}

export interface LockOptions {
  store: KeyStore;
  session: SessionArea;
  now?: () => number;
  /** scrypt cost for new passphrases; tests lower it. */
  scrypt?: ScryptParams;
}

export class LockManager implements DataKeySource {
  // Caches of what IndexedDB and storage.session hold; both are reloaded by a new worker.
  private record: LockRecord | null | undefined;
  private cached: { id: string; key: Uint8Array } | undefined;
  /** A change of the lock in progress (enable, disable): store access waits for it. */
  private changing: Promise<void> = Promise.resolve();
  /** This worker's pass over records left open or plainly named (sealLeftovers). */
  private leftovers: Promise<void> | undefined;
  private readonly store: KeyStore;
  private readonly session: SessionArea;
  private readonly now: () => number;
  private readonly scrypt: ScryptParams;

  constructor(opts: LockOptions) {
    this.store = opts.store;
    this.session = opts.session;
    this.now = opts.now ?? Date.now;
    this.scrypt = opts.scrypt ?? DEFAULT_SCRYPT;
  }

  async state(): Promise<LockState> {
    const rec = await this.loadRecord();
    if (!rec) return { enabled: false, locked: false };
    return { enabled: true, locked: !(await this.sessionKey(rec)) };
  }

  /**
   * The data key: undefined without a lock; BackgroundError('locked') while locked. Waits while
   * the lock is being set or removed: a write must not go in sealed or named for the other side.
   */
  async dataKey(): Promise<Uint8Array | undefined> {
    await this.changing;
    const rec = await this.loadRecord();
    if (!rec) return undefined;
    const key = await this.sessionKey(rec);
    if (!key) throw new BackgroundError('locked', 'Veil is locked: unlock it with your passphrase');
    await this.sealLeftovers(key);
    return key;
  }

  /** Sets a passphrase: seals every secret record under a fresh data key, in one transaction. */
  async enable(passphrase: string): Promise<void> {
    checkPassphrase(passphrase);
    if (await this.loadRecord())
      throw new BackgroundError('invalid-argument', 'a passphrase is already set; change it');
    const dataKey = randomBytes(32);
    const rec = await this.wrap(dataKey, passphrase, toBase64Url(randomBytes(16)));
    // The session holds the key first: whatever happens next, the data stays readable.
    await this.rememberKey(rec.id, dataKey);
    const own = dataKey.slice(); // locking wipes the remembered one: not this pass's
    await this.changeLock(async () => {
      await this.store.rewriteSealedTables(
        (table, key, value) => resealRecord(own, table, key, value),
        [
          { op: 'put', table: 'state', key: LOCK_KEY, value: rec },
          { op: 'put', table: 'state', key: SEALED_SET_KEY, value: SEALED_SET_VERSION },
        ],
      );
      this.record = rec;
    });
  }

  /** Runs a change of the lock itself; store reads and writes wait for it (dataKey). */
  private async changeLock(work: () => Promise<void>): Promise<void> {
    const run = this.changing.then(work);
    this.changing = run.catch(() => undefined);
    await run;
  }

  /** New passphrase, same data key: only the wrapped key changes. */
  async change(current: string, next: string): Promise<void> {
    checkPassphrase(next);
    const rec = await this.requireRecord();
    const dataKey = await this.unwrap(rec, current);
    const updated = await this.wrap(dataKey, next, rec.id);
    await this.store.commitRaw([{ op: 'put', table: 'state', key: LOCK_KEY, value: updated }]);
    this.record = updated;
    await this.rememberKey(rec.id, dataKey);
  }

  /** Removes the passphrase: opens every sealed record, in one transaction. */
  async disable(current: string): Promise<void> {
    const rec = await this.requireRecord();
    const dataKey = await this.unwrap(rec, current);
    await this.changeLock(async () => {
      await this.store.rewriteSealedTables(
        (table, key, value) => openStored(dataKey, table, key, value),
        [{ op: 'delete', table: 'state', key: LOCK_KEY }],
      );
      this.record = null;
      await this.forgetKey();
    });
  }

  async unlock(passphrase: string): Promise<void> {
    const rec = await this.requireRecord();
    const dataKey = await this.unwrap(rec, passphrase);
    await this.rememberKey(rec.id, dataKey);
    this.leftovers = undefined;
    await this.sealLeftovers(dataKey);
  }

  /**
   * Records an older version left open in tables sealed since (contacts, look-ups), or under
   * plain names in tables named since, are sealed and renamed now, once; the rest stay as they
   * are. At unlock, and at a worker's first use of a key it found remembered (an update while
   * unlocked).
   */
  private sealLeftovers(dataKey: Uint8Array): Promise<void> {
    this.leftovers ??= (async () => {
      if ((await this.store.getRaw('state', SEALED_SET_KEY)) === SEALED_SET_VERSION) return;
      const own = dataKey.slice(); // locking wipes the remembered one: not this pass's
      await this.store.rewriteSealedTables(
        (table, key, value) => resealRecord(own, table, key, value),
        [{ op: 'put', table: 'state', key: SEALED_SET_KEY, value: SEALED_SET_VERSION }],
      );
    })().catch((e: unknown) => {
      this.leftovers = undefined;
      throw e;
    });
    return this.leftovers;
  }

  async lock(): Promise<void> {
    await this.requireRecord();
    await this.forgetKey();
  }

  /** After the store was wiped: no lock, no key. */
  async reset(): Promise<void> {
    this.record = undefined;
    this.leftovers = undefined;
    await this.forgetKey();
  }

  private async loadRecord(): Promise<LockRecord | null> {
    if (this.record === undefined) {
      const raw = await this.store.getRaw('state', LOCK_KEY);
      this.record = raw === undefined ? null : asLockRecord(raw);
    }
    return this.record;
  }

  private async requireRecord(): Promise<LockRecord> {
    const rec = await this.loadRecord();
    if (!rec) throw new BackgroundError('invalid-argument', 'no passphrase lock is set');
    return rec;
  }

  private async sessionKey(rec: LockRecord): Promise<Uint8Array | undefined> {
    if (this.cached?.id === rec.id) return this.cached.key;
    const entry = (await this.session.get(SESSION_KEY))[SESSION_KEY] as
      { lockId?: unknown; key?: unknown } | undefined;
    if (!entry || entry.lockId !== rec.id || typeof entry.key !== 'string') return undefined;
    let key: Uint8Array;
    try {
      key = fromBase64Url(entry.key);
    } catch {
      return undefined;
    }
    if (key.length !== 32) return undefined;
    this.cached = { id: rec.id, key };
    return key;
  }

  private async rememberKey(id: string, key: Uint8Array): Promise<void> {
    await this.session.set({ [SESSION_KEY]: { lockId: id, key: toBase64Url(key) } });
    this.cached = { id, key };
  }

  private async forgetKey(): Promise<void> {
    if (this.cached) wipe(this.cached.key);
    this.cached = undefined;
    await this.session.remove(SESSION_KEY);
  }

  private async wrap(dataKey: Uint8Array, passphrase: string, id: string): Promise<LockRecord> {
    const salt = randomBytes(16);
    const kek = await deriveKek(passphrase, salt, this.scrypt);
    const nonce = randomBytes(24);
    const sealed = xchacha20poly1305(kek, nonce, lockAad(id)).encrypt(dataKey);
    wipe(kek);
    return {
      version: 1,
      id,
      kdf: { ...this.scrypt },
      salt,
      wrapped: concatBytes(nonce, sealed),
      createdAt: this.now(),
    };
  }

  private async unwrap(rec: LockRecord, passphrase: string): Promise<Uint8Array> {
    if (typeof passphrase !== 'string' || passphrase.length === 0)
      throw new VeilError('wrong-passphrase', 'the passphrase does not unlock Veil');
    const kek = await deriveKek(passphrase, rec.salt, rec.kdf);
    try {
      return xchacha20poly1305(kek, rec.wrapped.subarray(0, 24), lockAad(rec.id)).decrypt(
        rec.wrapped.subarray(24),
      );
    } catch {
      throw new VeilError('wrong-passphrase', 'the passphrase does not unlock Veil');
    } finally {
      wipe(kek);
    }
  }
}

function checkPassphrase(passphrase: string): void {
  if (typeof passphrase !== 'string' || passphrase.length < MIN_PASSPHRASE_LENGTH)
    throw new BackgroundError(
      'invalid-argument',
      `a passphrase needs at least ${MIN_PASSPHRASE_LENGTH} characters`,
    );
}

function lockAad(id: string): Uint8Array {
  return utf8ToBytes(`veil-lock/v1\n${id}`);
}

async function deriveKek(
  passphrase: string,
  salt: Uint8Array,
  p: ScryptParams,
): Promise<Uint8Array> {
  const master = await scryptAsync(utf8ToBytes(passphrase.normalize('NFKC')), salt, {
    N: 2 ** p.log2N,
    r: p.r,
    p: p.p,
    dkLen: 32,
    maxmem: 2 ** (p.log2N + 7) * p.r + 1024 * 1024,
  });
  const kek = hkdf(sha256, master, salt, utf8ToBytes('Veil lock key'), 32);
  wipe(master);
  return kek;
}

function asLockRecord(raw: unknown): LockRecord {
  const r = raw as Partial<LockRecord> | null;
  const kdf = r?.kdf;
  if (
    !r ||
    r.version !== 1 ||
    typeof r.id !== 'string' ||
    !(r.salt instanceof Uint8Array) ||
    !(r.wrapped instanceof Uint8Array) ||
    r.wrapped.length !== 24 + 32 + 16 ||
    !kdf ||
    !Number.isInteger(kdf.log2N) ||
    kdf.log2N < 10 ||
    kdf.log2N > MAX_LOG2N ||
    !Number.isInteger(kdf.r) ||
    kdf.r < 1 ||
    kdf.r > 16 ||
    !Number.isInteger(kdf.p) ||
    kdf.p < 1 ||
    kdf.p > 4
  )
    throw new BackgroundError('internal', 'the stored lock record is damaged');
  return r as LockRecord;
}
