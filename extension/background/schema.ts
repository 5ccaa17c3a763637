// The background's IndexedDB schema, built by numbered migrations (runs in the background only).
// Version n is what migrations 1…n produce; a database at any earlier version upgrades in one
// versionchange transaction, so an interrupted upgrade leaves the old version intact.
import { openDB, type IDBPDatabase, type IDBPTransaction } from 'idb';
import { STORE_TABLES, type StoreTable } from '../protocol/store';
import { BackgroundError } from './errors';

export const DB_NAME = 'veil';
/** Key of the personal security phrase in the `secrets` table. */
export const SECURITY_PHRASE_KEY = 'securityPhrase';

/** The protocol core's tables (ProtocolStore). */
export const PROTOCOL_TABLES: readonly StoreTable[] = STORE_TABLES;

/** The extension's own tables. */
export type ExtensionTable =
  | 'settings' // key 'settings': Settings
  | 'secrets' // key 'securityPhrase'; sealed under the lock
  | 'directory' // key: directory base URL → pinned directory key, last head, sequences seen
  | 'state'; // key 'lock' (lock record), key 'profile' (public view of our identity)

export const EXTENSION_TABLES: readonly ExtensionTable[] = [
  'settings',
  'secrets',
  'directory',
  'state',
];

/** Tables of the in-page feature (migration 3). */
export type PageTable = 'plaintexts'; // key: hex SHA-256 of an envelope → its decrypted text; sealed

export const PAGE_TABLES: readonly PageTable[] = ['plaintexts'];

/** Tables of sender trust (migration 4). */
export type TrustTable = 'senders'; // key: `<directory> <handle> <key hex>` → where the log has that key; sealed

export const TRUST_TABLES: readonly TrustTable[] = ['senders'];

/** Tables of the message archive (migration 6, docs/archive.md); both sealed. */
export type ArchiveTable =
  | 'archive' // key: 12-digit sequence number → one archived message (the index's log)
  | 'archiveIndex'; // keys 'catalog', 'manifest', 'seg/<n>': conversations and the search index

export const ARCHIVE_TABLES: readonly ArchiveTable[] = ['archive', 'archiveIndex'];

export type Table = StoreTable | ExtensionTable | PageTable | TrustTable | ArchiveTable;
export const ALL_TABLES: readonly Table[] = [
  ...PROTOCOL_TABLES,
  ...EXTENSION_TABLES,
  ...PAGE_TABLES,
  ...TRUST_TABLES,
  ...ARCHIVE_TABLES,
];

type UpgradeTx = IDBPTransaction<unknown, string[], 'versionchange'>;

export interface Migration {
  /** The version this migration produces. */
  version: number;
  description: string;
  up(db: IDBPDatabase, tx: UpgradeTx): Promise<void> | void;
}

/**
 * Every schema change, in order. Never edit a shipped one: add the next. Each needs a fixture
 * in schema.test.ts (the completeness test checks), so an upgrade is tested from every version.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'protocol tables (identity, prekeys, sessions, sender keys, contacts, meta)',
    up(db) {
      // The protocol's tables as they were when this shipped; later ones have their own step.
      for (const t of [
        'identity',
        'signedPrekeys',
        'oneTimePrekeys',
        'sessions',
        'senderKeys',
        'contacts',
        'meta',
      ])
        db.createObjectStore(t);
    },
  },
  {
    version: 2,
    description: 'extension tables (settings, secrets, directory state, lock and profile)',
    up(db) {
      for (const t of EXTENSION_TABLES) db.createObjectStore(t);
    },
  },
  {
    version: 3,
    description: 'plaintext cache of decrypted and sent messages (by envelope hash)',
    up(db) {
      for (const t of PAGE_TABLES) db.createObjectStore(t);
    },
  },
  {
    version: 4,
    description: 'senders: what the directory log says of the keys messages were sealed with',
    up(db) {
      for (const t of TRUST_TABLES) db.createObjectStore(t);
    },
  },
  {
    version: 5,
    description: 'kemPrekeys: post-quantum (ML-KEM-768) prekeys by id',
    up(db) {
      db.createObjectStore('kemPrekeys');
    },
  },
  {
    version: 6,
    description: 'archive: archived messages by sequence, and their sealed search index',
    up(db) {
      for (const t of ARCHIVE_TABLES) db.createObjectStore(t);
    },
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export interface OpenOptions {
  name?: string;
  /** For tests of the migrations themselves: stop at this version. */
  version?: number;
  /** Called when another connection wants a newer version: we close so it can proceed. */
  onBlocking?: () => void;
}

/** Opens (creating or upgrading) the database. A database newer than this code → 'unknown-version'. */
export async function openVeilDb(opts: OpenOptions = {}): Promise<IDBPDatabase> {
  const version = opts.version ?? SCHEMA_VERSION;
  try {
    return await openDB(opts.name ?? DB_NAME, version, {
      async upgrade(db, oldVersion, newVersion, tx) {
        for (const m of MIGRATIONS)
          if (m.version > oldVersion && m.version <= (newVersion ?? version)) await m.up(db, tx);
      },
      blocking(_current, _blocked, event) {
        (event.target as IDBDatabase).close();
        opts.onBlocking?.();
      },
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'VersionError')
      throw new BackgroundError(
        'unknown-version',
        'the stored data is from a newer version of Veil; update the extension',
      );
    throw e;
  }
}
