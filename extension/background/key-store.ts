// The background's IndexedDB store (background only; no page or content script opens it):
// the protocol core's ProtocolStore plus the extension's own tables. Every commit is one
// IndexedDB transaction (all or nothing). Values of secret tables are sealed under the lock's
// data key when a passphrase lock is set; without the key they cannot be read or written. Where a
// record's key says something (NAMED_TABLES), it is stored under a keyed hash of the key.
import type { IDBPDatabase } from 'idb';
import type { ProtocolStore } from '../protocol/store';
import { BackgroundError } from './errors';
import { ALL_TABLES, DB_NAME, openVeilDb, type Table } from './schema';
import {
  isSealed,
  openRecord,
  openValue,
  recordName,
  sealNamed,
  sealValue,
  type SealedValue,
} from './seal';

/**
 * Tables whose values hold private keys, session state, the security phrase, plaintext, or who
 * the user talks to (contacts, directory look-ups): everything but what unlocking needs (the
 * lock record, the public profile, settings the browser must know) and the log alarms, which
 * are meant to be seen while locked.
 */
export const SEALED_TABLES: readonly Table[] = [
  'identity',
  'contacts',
  'directory',
  'signedPrekeys',
  'oneTimePrekeys',
  'kemPrekeys',
  'sessions',
  'senderKeys',
  'meta',
  'secrets',
  'plaintexts',
  'senders',
  'archive',
  'archiveIndex',
];
const SEALED = new Set<Table>(SEALED_TABLES);

/**
 * Sealed tables whose keys name people, conversations, directories or envelopes (handles,
 * group ids, envelope hashes): under a lock each record is stored under recordName(key), its key
 * sealed with its value. The others' keys are fixed names ('self', 'securityPhrase') or
 * already opaque (prekey ids, HMAC names).
 */
export const NAMED_TABLES: readonly Table[] = [
  'contacts',
  'directory',
  'sessions',
  'senderKeys',
  'meta',
  'plaintexts',
  'senders',
];
const NAMED = new Set<Table>(NAMED_TABLES);

/** How a record of `table` is stored under a lock with `dataKey`: its name and sealed value. */
export function sealRecord(
  dataKey: Uint8Array,
  table: Table,
  key: string,
  value: unknown,
): { key: string; value: SealedValue } {
  if (!NAMED.has(table)) return { key, value: sealValue(dataKey, table, key, value) };
  const name = recordName(dataKey, table, key);
  return { key: name, value: sealNamed(dataKey, table, name, key, value) };
}

/**
 * A record as stored (`stored`: its name in IndexedDB) brought to the form a lock with
 * `dataKey` wants: sealed and, in NAMED_TABLES, under its hidden name. Already so: unchanged.
 */
export function resealRecord(
  dataKey: Uint8Array,
  table: Table,
  stored: string,
  raw: unknown,
): { key: string; value: unknown } {
  if (!isSealed(raw)) return sealRecord(dataKey, table, stored, raw);
  if (!NAMED.has(table) || raw.veilSealed === 2) return { key: stored, value: raw };
  // Sealed under its plain key by an older version: renamed now. One that does not open
  // (damaged) stays as it is: it must not stop the others.
  let value: unknown;
  try {
    value = openValue(dataKey, table, stored, raw);
  } catch {
    return { key: stored, value: raw };
  }
  return sealRecord(dataKey, table, stored, value);
}

/** A stored record opened: its own key and plain value (for removing the lock). */
export function openStored(
  dataKey: Uint8Array,
  table: Table,
  stored: string,
  raw: unknown,
): { key: string; value: unknown } {
  return isSealed(raw) ? openRecord(dataKey, table, stored, raw) : { key: stored, value: raw };
}
const KNOWN = new Set<Table>(ALL_TABLES);

export type StoreOpAny =
  | { op: 'put'; table: Table; key: string; value: unknown }
  | { op: 'delete'; table: Table; key: string };

/** Where the data key comes from: undefined when no lock is set; throws 'locked' when locked. */
export interface DataKeySource {
  dataKey(): Promise<Uint8Array | undefined>;
}

const NO_LOCK: DataKeySource = { dataKey: async () => undefined };

export interface KeyStoreOptions {
  /** IndexedDB database name (tests use one per simulated profile). */
  name?: string;
}

export class KeyStore implements ProtocolStore {
  /** Set by the lock manager; until then nothing is sealed. */
  keySource: DataKeySource = NO_LOCK;
  private opening: Promise<IDBPDatabase> | undefined;

  constructor(private readonly options: KeyStoreOptions = {}) {}

  /** The IndexedDB database name. */
  get name(): string {
    return this.options.name ?? DB_NAME;
  }

  /** The open database, opened on first use and again after another connection closed it. */
  private db(): Promise<IDBPDatabase> {
    this.opening ??= openVeilDb({
      name: this.options.name,
      onBlocking: () => {
        this.opening = undefined;
      },
    }).catch((e: unknown) => {
      this.opening = undefined;
      throw e;
    });
    return this.opening;
  }

  async get<T>(table: Table, key: string): Promise<T | undefined> {
    checkTable(table);
    const stored = await this.nameOf(table, key);
    const raw: unknown = await (await this.db()).get(table, stored);
    return (await this.unseal(table, stored, raw)) as T | undefined;
  }

  /**
   * Where `key` is stored: under a lock, a NAMED table's records are under their hidden name
   * (so reading one needs the data key: 'locked' while locked, found or not).
   */
  private async nameOf(table: Table, key: string): Promise<string> {
    if (!NAMED.has(table)) return key;
    const dataKey = await this.keySource.dataKey();
    return dataKey ? recordName(dataKey, table, key) : key;
  }

  /**
   * Values of many keys of one table, read in one transaction (a page's worth of cache lookups
   * costs one IndexedDB round trip, not one each); undefined where a key is absent.
   */
  async getMany<T>(table: Table, keys: readonly string[]): Promise<(T | undefined)[]> {
    checkTable(table);
    checkKeys(keys);
    if (keys.length === 0) return [];
    const named = NAMED.has(table) ? await this.keySource.dataKey() : undefined;
    const stored = named ? keys.map((k) => recordName(named, table, k)) : keys;
    const tx = (await this.db()).transaction(table, 'readonly');
    const raw: unknown[] = await Promise.all(stored.map((k) => tx.store.get(k)));
    await tx.done;
    const dataKey = raw.some(isSealed) ? await this.requireDataKey() : undefined;
    return raw.map((value, i) =>
      isSealed(value) ? (openValue(dataKey!, table, stored[i]!, value) as T) : (value as T),
    );
  }

  /** How many records a table holds. */
  async count(table: Table): Promise<number> {
    checkTable(table);
    return (await this.db()).count(table);
  }

  /**
   * Deletes the oldest records of a table beyond the newest `keep`, oldest by `ageOf` of each
   * (unsealed) value, in one transaction; a record that does not open counts as oldest. Returns
   * how many records remain. Reads every record: for rare passes, not for every write.
   */
  async deleteOldest(
    table: Table,
    keep: number,
    ageOf: (value: unknown) => number,
  ): Promise<number> {
    checkTable(table);
    if (!Number.isSafeInteger(keep) || keep < 0)
      throw new BackgroundError('invalid-argument', 'keep must be a whole number ≥ 0');
    // Fetched before the transaction: it must not wait on anything but IndexedDB.
    const dataKey = SEALED.has(table) ? await this.keySource.dataKey() : undefined;
    const tx = (await this.db()).transaction(table, 'readwrite');
    try {
      const [keys, values] = await Promise.all([tx.store.getAllKeys(), tx.store.getAll()]);
      const excess = keys.length - keep;
      if (excess > 0) {
        const ages = values.map((value, i) => {
          try {
            const open = isSealed(value)
              ? openValue(dataKey!, table, String(keys[i]), value)
              : value;
            return ageOf(open);
          } catch {
            return -Infinity; // damaged, or sealed without a key: unreadable anyway
          }
        });
        const oldest = keys
          .map((_, i) => i)
          .sort((a, b) => ages[a]! - ages[b]!)
          .slice(0, excess);
        await Promise.all(oldest.map((i) => tx.store.delete(keys[i]!)));
      }
      await tx.done;
      return Math.min(keys.length, keep);
    } catch (e) {
      abortQuietly(tx);
      await tx.done.catch(() => undefined);
      throw e;
    }
  }

  /**
   * Records of a table (not a NAMED one) with keys after `after` in key order, at most `limit`,
   * unsealed: the archive's log is read in ranges, never all at once.
   */
  async entriesAfter<T>(table: Table, after: string, limit: number): Promise<[string, T][]> {
    checkTable(table);
    if (NAMED.has(table)) throw new BackgroundError('internal', 'a named table has no key order');
    const db = await this.db();
    const range = IDBKeyRange.lowerBound(after, true);
    const tx = db.transaction(table, 'readonly');
    const [keys, values] = await Promise.all([
      tx.store.getAllKeys(range, limit),
      tx.store.getAll(range, limit),
      tx.done,
    ]);
    const dataKey = values.some(isSealed) ? await this.requireDataKey() : undefined;
    return keys.map((k, i) => {
      const v = values[i];
      return [String(k), (isSealed(v) ? openValue(dataKey!, table, String(k), v) : v) as T];
    });
  }

  /** The records' own keys (a NAMED table's are sealed in its records under a lock). */
  async keys(table: Table): Promise<string[]> {
    checkTable(table);
    if (NAMED.has(table) && (await this.keySource.dataKey()))
      return (await this.entries(table)).map(([k]) => k);
    const keys = await (await this.db()).getAllKeys(table);
    return keys.map(String);
  }

  /**
   * Every record of a table (unsealed), under its own key. `skipDamaged` (the default for
   * NAMED_TABLES, whose keys are inside the records): leave out a record that does not open
   * (else it throws), so one damaged contact or session does not stop all the others.
   */
  async entries<T>(
    table: Table,
    { skipDamaged = NAMED.has(table) }: { skipDamaged?: boolean } = {},
  ): Promise<[string, T][]> {
    checkTable(table);
    const db = await this.db();
    const tx = db.transaction(table, 'readonly');
    const [keys, values] = await Promise.all([tx.store.getAllKeys(), tx.store.getAll(), tx.done]);
    const out: [string, T][] = [];
    const dataKey = values.some(isSealed) ? await this.requireDataKey() : undefined;
    for (let i = 0; i < keys.length; i++) {
      try {
        const { key, value } = openStored(dataKey!, table, String(keys[i]), values[i]);
        out.push([key, value as T]);
      } catch (e) {
        if (!skipDamaged) throw e;
      }
    }
    return out;
  }

  /** Applies every op or none, in one transaction; secret tables' values are sealed first. */
  async commit(ops: readonly StoreOpAny[]): Promise<void> {
    if (ops.length === 0) return;
    for (const o of ops) {
      checkTable(o.table);
      if (typeof o.key !== 'string')
        throw new BackgroundError('invalid-argument', 'store keys are strings');
    }
    const needsKey = ops.some((o) => (o.op === 'put' && SEALED.has(o.table)) || NAMED.has(o.table));
    const dataKey = needsKey ? await this.keySource.dataKey() : undefined;
    const prepared = ops.map((o): StoreOpAny => {
      if (!dataKey || !SEALED.has(o.table)) return o;
      if (o.op === 'put') return { ...o, ...sealRecord(dataKey, o.table, o.key, o.value) };
      return NAMED.has(o.table) ? { ...o, key: recordName(dataKey, o.table, o.key) } : o;
    });
    await this.commitRaw(prepared);
  }

  /** Reads a value exactly as stored (sealed or not). For the lock manager. */
  async getRaw(table: Table, key: string): Promise<unknown> {
    checkTable(table);
    return (await this.db()).get(table, key);
  }

  /** Writes values exactly as given, in one transaction. For the lock manager. */
  async commitRaw(ops: readonly StoreOpAny[]): Promise<void> {
    if (ops.length === 0) return;
    const db = await this.db();
    const tables = [...new Set(ops.map((o) => o.table))];
    const tx = db.transaction(tables, 'readwrite');
    const pending: Promise<unknown>[] = [];
    try {
      for (const o of ops) {
        const store = tx.objectStore(o.table);
        pending.push(o.op === 'put' ? store.put(o.value, o.key) : store.delete(o.key));
      }
    } catch (e) {
      // A value that cannot be stored (DataCloneError) throws synchronously: undo the rest.
      abortQuietly(tx);
      await Promise.allSettled([...pending, tx.done]);
      throw e;
    }
    await Promise.all([...pending, tx.done]);
  }

  /**
   * Rewrites every record of the secret tables through `transform` (which may also rename it)
   * and applies `extra`, in one transaction (so enabling or removing the lock is all or nothing).
   * `transform` must be synchronous: an IndexedDB transaction ends when it waits on anything else.
   */
  async rewriteSealedTables(
    transform: (table: Table, key: string, value: unknown) => { key: string; value: unknown },
    extra: readonly StoreOpAny[],
  ): Promise<void> {
    const db = await this.db();
    const tables = [...new Set<Table>([...SEALED_TABLES, ...extra.map((o) => o.table)])];
    const tx = db.transaction(tables, 'readwrite');
    const work = (async () => {
      for (const table of SEALED_TABLES) {
        const store = tx.objectStore(table);
        // Read first, then write: renamed records must not be met again by the walk.
        const [keys, values] = await Promise.all([store.getAllKeys(), store.getAll()]);
        for (let i = 0; i < keys.length; i++) {
          const stored = String(keys[i]);
          const next = transform(table, stored, values[i]);
          if (next.key !== stored) {
            await store.delete(stored);
            await store.put(next.value, next.key);
          } else if (next.value !== values[i]) await store.put(next.value, stored);
        }
      }
      for (const o of extra) {
        const store = tx.objectStore(o.table);
        await (o.op === 'put' ? store.put(o.value, o.key) : store.delete(o.key));
      }
    })();
    try {
      await work;
    } catch (e) {
      abortQuietly(tx);
      await tx.done.catch(() => undefined);
      throw e;
    }
    await tx.done;
  }

  /** Empties every table in one transaction. */
  async clearAll(): Promise<void> {
    const db = await this.db();
    const tx = db.transaction([...ALL_TABLES], 'readwrite');
    await Promise.all([...ALL_TABLES.map((t) => tx.objectStore(t).clear()), tx.done]);
  }

  async close(): Promise<void> {
    const opening = this.opening;
    this.opening = undefined;
    if (opening) (await opening.catch(() => undefined))?.close();
  }

  private async requireDataKey(): Promise<Uint8Array> {
    const dataKey = await this.keySource.dataKey();
    if (!dataKey) throw new BackgroundError('internal', 'a sealed record without a lock');
    return dataKey;
  }

  private async unseal(table: Table, stored: string, raw: unknown): Promise<unknown> {
    if (!isSealed(raw)) return raw;
    return openValue(await this.requireDataKey(), table, stored, raw);
  }
}

function checkTable(table: string): asserts table is Table {
  if (!KNOWN.has(table as Table)) throw new BackgroundError('invalid-argument', 'unknown table');
}

function checkKeys(keys: readonly unknown[]): void {
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string'))
    throw new BackgroundError('invalid-argument', 'store keys are strings');
}

/** Aborts a transaction that may already have ended (aborting twice throws). */
function abortQuietly(tx: { abort(): void }): void {
  try {
    tx.abort();
  } catch {
    // already finished or aborted: nothing to undo
  }
}
