// SQLite implementation of the directory store (the default): one file, WAL journal, every write
// in one IMMEDIATE transaction. better-sqlite3 is synchronous, so a transaction never interleaves
// with another request on the same connection.
import Database from 'better-sqlite3';
import { encodeLogEntry, leafHash } from '../extension/protocol/transparency';
import { type LinkStore, SqliteLinkStore } from './link-store';
import { MerkleFrontier, rangeCover } from './log';
import { LATEST_VERSION, migrationSteps } from './migrations/index';
import {
  type Bundle,
  type DeleteInput,
  type DeleteResult,
  type DeviceListRecord,
  type DirectoryStore,
  type HeadSigner,
  type IdentityRecord,
  type KemPrekeyCounts,
  type KemPrekeyRecord,
  type NodeRef,
  type PublishInput,
  type PublishResult,
  type PutDeviceListInput,
  type PutDeviceListResult,
  type StoreStats,
  type StoredLogEntry,
  type StoredTreeHead,
  type WriteContext,
  StoreIntegrityError,
} from './store';
import {
  Rollback,
  type Row,
  blob,
  deviceListFromRow,
  deviceListLogEntry,
  deviceListRowValues,
  deviceListUpsertSql,
  identityFromRow,
  identityRowValues,
  identityUpsertSql,
  kemPrekeyFromRow,
  logEntryFromRow,
  num,
  planDeviceList,
  planPublish,
  sameBytes,
  seconds,
  u8,
} from './store-rows';

export interface SqliteStoreOptions {
  /** Path of the database file (`:memory:` for a throwaway store). */
  file: string;
  /**
   * `full` (default) fsyncs every commit; `normal` in WAL mode survives a process crash but may
   * lose the last commits on power loss.
   */
  synchronous?: 'full' | 'normal';
}

const UPSERT_IDENTITY = identityUpsertSql(() => '?');
const UPSERT_DEVICE_LIST = deviceListUpsertSql(() => '?');

export class SqliteStore implements DirectoryStore {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  readonly links: LinkStore;

  constructor(options: SqliteStoreOptions) {
    this.db = new Database(options.file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    // Proofs read scattered Merkle nodes: keep hot pages in memory and map the file.
    this.db.pragma('cache_size = -65536');
    this.db.pragma('mmap_size = 1073741824');
    this.links = new SqliteLinkStore(this.db);
  }

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  async migrate(target = LATEST_VERSION): Promise<void> {
    this.statements.clear();
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    const apply = this.db.transaction(() => {
      const current = this.currentVersion();
      for (const { migration, direction } of migrationSteps(current, target)) {
        this.db.exec(migration.sqlite[direction]);
        if (direction === 'up')
          this.db
            .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
            .run(migration.version, migration.name, Date.now());
        else
          this.db.prepare('DELETE FROM schema_migrations WHERE version = ?').run(migration.version);
      }
    });
    apply.immediate();
  }

  private currentVersion(): number {
    const row = this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as Row;
    return num(row.v ?? 0);
  }

  async schemaVersion(): Promise<number> {
    return this.currentVersion();
  }

  async loadOrCreateDirectoryKey(generate: () => Uint8Array, now: number): Promise<Uint8Array> {
    const run = this.db.transaction(() => {
      const row = this.stmt('SELECT secret_key FROM directory_key WHERE id = 1').get() as
        Row | undefined;
      if (row) return u8(row.secret_key);
      const key = generate();
      this.stmt('INSERT INTO directory_key (id, secret_key, created_at) VALUES (1, ?, ?)').run(
        blob(key),
        now,
      );
      return key;
    });
    return run.immediate();
  }

  async ensureHead(now: number, signHead: HeadSigner): Promise<void> {
    const run = this.db.transaction(() => {
      const row = this.stmt('SELECT 1 FROM tree_heads LIMIT 1').get();
      if (row) return;
      const size = num(
        (this.stmt('SELECT tree_size FROM log_state WHERE id = 1').get() as Row).tree_size,
      );
      if (size !== 0) throw new StoreIntegrityError('log has entries but no signed head');
      const root = MerkleFrontier.empty().root();
      const ts = seconds(now);
      this.stmt(
        'INSERT INTO tree_heads (tree_size, root_hash, timestamp, signature) VALUES (0, ?, ?, ?)',
      ).run(blob(root), ts, blob(signHead(0, root, ts)));
    });
    run.immediate();
  }

  async latestHead(): Promise<StoredTreeHead | undefined> {
    const r = this.stmt('SELECT * FROM tree_heads ORDER BY tree_size DESC LIMIT 1').get() as
      Row | undefined;
    return r && this.headFromRow(r);
  }

  async treeSize(): Promise<number> {
    return num((this.stmt('SELECT tree_size FROM log_state WHERE id = 1').get() as Row).tree_size);
  }

  private headFromRow(r: Row): StoredTreeHead {
    return {
      treeSize: num(r.tree_size),
      rootHash: u8(r.root_hash),
      timestamp: num(r.timestamp),
      signature: u8(r.signature),
    };
  }

  async getIdentity(handle: string): Promise<IdentityRecord | undefined> {
    return this.readIdentity(handle);
  }

  private readIdentity(handle: string): IdentityRecord | undefined {
    const r = this.stmt('SELECT * FROM identities WHERE handle = ?').get(handle) as Row | undefined;
    return r && identityFromRow(r);
  }

  /** Records the nonce; false if it was already used. Also forgets expired nonces. */
  private consumeNonce(ctx: WriteContext): boolean {
    this.stmt('DELETE FROM request_nonces WHERE expires_at < ?').run(ctx.now);
    const res = this.stmt(
      'INSERT OR IGNORE INTO request_nonces (nonce, expires_at) VALUES (?, ?)',
    ).run(ctx.nonce, ctx.nonceExpiresAt);
    return res.changes === 1;
  }

  /** Appends one entry to the log inside the caller's transaction; returns its index. */
  private appendLog(entry: Omit<StoredLogEntry, 'index'>, signHead: HeadSigner): number {
    const size = num(
      (this.stmt('SELECT tree_size FROM log_state WHERE id = 1').get() as Row).tree_size,
    );
    const frontier = MerkleFrontier.fromCover(size, this.readNodes(rangeCover(0, size)));
    const created = frontier.append(leafHash(encodeLogEntry(entry)));
    this.stmt(
      'INSERT INTO log_entries (idx, handle, identity_key, action, sequence, timestamp) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(
      size,
      entry.handle,
      blob(entry.identityKey),
      entry.action,
      entry.sequence,
      entry.timestamp,
    );
    const insertNode = this.stmt('INSERT INTO log_nodes (level, idx, hash) VALUES (?, ?, ?)');
    for (const n of created) insertNode.run(n.level, n.index, blob(n.hash));
    const root = frontier.root();
    this.stmt(
      'INSERT INTO tree_heads (tree_size, root_hash, timestamp, signature) VALUES (?, ?, ?, ?)',
    ).run(size + 1, blob(root), entry.timestamp, blob(signHead(size + 1, root, entry.timestamp)));
    this.stmt('UPDATE log_state SET tree_size = ? WHERE id = 1').run(size + 1);
    return size;
  }

  /**
   * The handle's latest sequence in the log (0 if none), deletions and device lists included:
   * key and device-list entries share one sequence per handle.
   */
  private lastSequence(handle: string): number {
    const r = this.stmt('SELECT MAX(sequence) AS s FROM log_entries WHERE handle = ?').get(
      handle,
    ) as Row;
    return num(r.s ?? 0);
  }

  async publish(input: PublishInput, ctx: WriteContext): Promise<PublishResult> {
    const run = this.db.transaction((): PublishResult => {
      if (!this.consumeNonce(ctx)) return { ok: false, reason: 'replay' };
      const current = this.readIdentity(input.handle);
      const plan = planPublish(input, current, this.lastSequence(input.handle), ctx.now);
      if (!plan.ok) return plan;
      const logIndex = plan.loggedAt ?? this.appendLog(plan.entry, ctx.signHead);
      if (plan.dropOneTimePrekeys) this.dropKeyMaterial(input.handle);
      this.stmt(UPSERT_IDENTITY).run(...identityRowValues(input, plan, logIndex));
      const upsert = this.stmt(
        `INSERT INTO one_time_prekeys (handle, id, public_key) VALUES (?, ?, ?)
         ON CONFLICT (handle, id) DO UPDATE SET public_key = excluded.public_key`,
      );
      for (const k of input.oneTimePrekeys) upsert.run(input.handle, k.id, blob(k.publicKey));
      const count = this.countPrekeys(input.handle);
      if (count > input.maxStoredOneTimePrekeys)
        throw new Rollback<PublishResult>({ ok: false, reason: 'too-many-prekeys' });
      const kem = input.kemPrekeys;
      if (kem?.lastResort) {
        const k = kem.lastResort;
        this.stmt(
          `INSERT INTO kem_last_resort_prekeys (handle, id, public_key, signature) VALUES (?, ?, ?, ?)
           ON CONFLICT (handle) DO UPDATE SET id = excluded.id, public_key = excluded.public_key,
             signature = excluded.signature`,
        ).run(input.handle, k.id, blob(k.publicKey), blob(k.signature));
      }
      const upsertKem = this.stmt(
        `INSERT INTO kem_one_time_prekeys (handle, id, public_key, signature) VALUES (?, ?, ?, ?)
         ON CONFLICT (handle, id) DO UPDATE SET public_key = excluded.public_key,
           signature = excluded.signature`,
      );
      for (const k of kem?.oneTime ?? [])
        upsertKem.run(input.handle, k.id, blob(k.publicKey), blob(k.signature));
      const kemCount = this.kemCounts(input.handle).oneTime;
      if (kemCount > (input.maxStoredKemPrekeys ?? Infinity))
        throw new Rollback<PublishResult>({ ok: false, reason: 'too-many-kem-prekeys' });
      const { status, entry } = plan;
      return {
        ok: true,
        status,
        logIndex,
        sequence: entry.sequence,
        oneTimePrekeys: count,
        kemOneTimePrekeys: kemCount,
      };
    });
    try {
      return run.immediate();
    } catch (e) {
      if (e instanceof Rollback) return e.result as PublishResult;
      throw e;
    }
  }

  async deleteIdentity(input: DeleteInput, ctx: WriteContext): Promise<DeleteResult> {
    const run = this.db.transaction((): DeleteResult => {
      if (!this.consumeNonce(ctx)) return { ok: false, reason: 'replay' };
      const current = this.readIdentity(input.handle);
      if (!current) return { ok: false, reason: 'not-found' };
      if (!sameBytes(current.identityKey, input.expectedCurrentKey))
        return { ok: false, reason: 'conflict' };
      const sequence = this.lastSequence(input.handle) + 1;
      const logIndex = this.appendLog(
        {
          handle: input.handle,
          identityKey: current.identityKey,
          action: 'delete',
          sequence,
          timestamp: seconds(ctx.now),
        },
        ctx.signHead,
      );
      this.dropKeyMaterial(input.handle);
      this.stmt('DELETE FROM identities WHERE handle = ?').run(input.handle);
      return { ok: true, logIndex, sequence };
    });
    return run.immediate();
  }

  async putDeviceList(input: PutDeviceListInput, ctx: WriteContext): Promise<PutDeviceListResult> {
    const run = this.db.transaction((): PutDeviceListResult => {
      if (!this.consumeNonce(ctx)) return { ok: false, reason: 'replay' };
      const stored = this.stmt('SELECT version FROM device_lists WHERE handle = ?').get(
        input.handle,
      ) as Row | undefined;
      const refused = planDeviceList(
        input,
        this.readIdentity(input.handle),
        stored && num(stored.version),
      );
      if (refused) return refused;
      const entry = deviceListLogEntry(input.list, this.lastSequence(input.handle) + 1, ctx.now);
      const logIndex = this.appendLog(entry, ctx.signHead);
      this.stmt(UPSERT_DEVICE_LIST).run(
        ...deviceListRowValues(input.list, entry, logIndex, ctx.now),
      );
      return { ok: true, logIndex, sequence: entry.sequence };
    });
    return run.immediate();
  }

  async getDeviceList(handle: string): Promise<DeviceListRecord | undefined> {
    const r = this.stmt('SELECT * FROM device_lists WHERE handle = ?').get(handle) as
      Row | undefined;
    return r && deviceListFromRow(r);
  }

  async takeBundle(handle: string): Promise<Bundle | undefined> {
    const run = this.db.transaction((): Bundle | undefined => {
      const identity = this.readIdentity(handle);
      if (!identity) return undefined;
      const r = this.stmt(
        `DELETE FROM one_time_prekeys WHERE handle = @handle AND id =
           (SELECT id FROM one_time_prekeys WHERE handle = @handle ORDER BY id LIMIT 1)
         RETURNING id, public_key`,
      ).get({ handle }) as Row | undefined;
      const kemPrekey = this.takeKemPrekey(handle);
      return {
        identity,
        ...(r ? { oneTimePrekey: { id: num(r.id), publicKey: u8(r.public_key) } } : {}),
        ...(kemPrekey ? { kemPrekey } : {}),
      };
    });
    return run.immediate();
  }

  /** Inside the caller's transaction: removes and returns a one-time KEM prekey, else the last-resort one. */
  private takeKemPrekey(handle: string): KemPrekeyRecord | undefined {
    const oneTime = this.stmt(
      `DELETE FROM kem_one_time_prekeys WHERE handle = @handle AND id =
         (SELECT id FROM kem_one_time_prekeys WHERE handle = @handle ORDER BY id LIMIT 1)
       RETURNING id, public_key, signature`,
    ).get({ handle }) as Row | undefined;
    if (oneTime) return kemPrekeyFromRow(oneTime, false);
    const lastResort = this.stmt(
      'SELECT id, public_key, signature FROM kem_last_resort_prekeys WHERE handle = ?',
    ).get(handle) as Row | undefined;
    return lastResort && kemPrekeyFromRow(lastResort, true);
  }

  /**
   * Inside the caller's transaction (a rotation, a deletion): every prekey of the handle and its
   * device list, all signed by the key that goes.
   */
  private dropKeyMaterial(handle: string): void {
    this.stmt('DELETE FROM one_time_prekeys WHERE handle = ?').run(handle);
    this.stmt('DELETE FROM kem_one_time_prekeys WHERE handle = ?').run(handle);
    this.stmt('DELETE FROM kem_last_resort_prekeys WHERE handle = ?').run(handle);
    this.stmt('DELETE FROM device_lists WHERE handle = ?').run(handle);
  }

  private kemCounts(handle: string): KemPrekeyCounts {
    const r = this.stmt(
      `SELECT (SELECT COUNT(*) FROM kem_one_time_prekeys WHERE handle = @handle) AS n,
              (SELECT id FROM kem_last_resort_prekeys WHERE handle = @handle) AS last_resort_id`,
    ).get({ handle }) as Row;
    return {
      oneTime: num(r.n),
      lastResortId: r.last_resort_id == null ? null : num(r.last_resort_id),
    };
  }

  async countKemPrekeys(handle: string): Promise<KemPrekeyCounts> {
    return this.kemCounts(handle);
  }

  private countPrekeys(handle: string): number {
    return num(
      (this.stmt('SELECT COUNT(*) AS n FROM one_time_prekeys WHERE handle = ?').get(handle) as Row)
        .n,
    );
  }

  async countOneTimePrekeys(handle: string): Promise<number> {
    return this.countPrekeys(handle);
  }

  async latestKeyEntry(handle: string): Promise<StoredLogEntry | undefined> {
    const r = this.stmt(
      "SELECT * FROM log_entries WHERE handle = ? AND action <> 'devices' ORDER BY sequence DESC LIMIT 1",
    ).get(handle) as Row | undefined;
    return r && logEntryFromRow(r);
  }

  async logEntriesForHandle(
    handle: string,
    afterSequence: number,
    limit: number,
  ): Promise<StoredLogEntry[]> {
    // Served by the unique (handle, sequence) index.
    const rows = this.stmt(
      'SELECT * FROM log_entries WHERE handle = ? AND sequence > ? ORDER BY sequence LIMIT ?',
    ).all(handle, afterSequence, limit) as Row[];
    return rows.map(logEntryFromRow);
  }

  async getLogEntries(start: number, count: number): Promise<StoredLogEntry[]> {
    const rows = this.stmt('SELECT * FROM log_entries WHERE idx >= ? ORDER BY idx LIMIT ?').all(
      start,
      count,
    ) as Row[];
    return rows.map(logEntryFromRow);
  }

  private readNodes(refs: readonly NodeRef[]): Uint8Array[] {
    const get = this.stmt('SELECT hash FROM log_nodes WHERE level = ? AND idx = ?');
    return refs.map((r) => {
      const row = get.get(r.level, r.index) as Row | undefined;
      if (!row) throw new StoreIntegrityError('missing Merkle node');
      return u8(row.hash);
    });
  }

  async getLogNodes(refs: readonly NodeRef[]): Promise<Uint8Array[]> {
    return this.readNodes(refs);
  }

  async stats(): Promise<StoreStats> {
    const r = this.stmt(
      `SELECT (SELECT COUNT(*) FROM identities) AS identities,
              (SELECT COUNT(*) FROM one_time_prekeys) AS prekeys,
              (SELECT COUNT(*) FROM kem_one_time_prekeys) AS kem_prekeys,
              (SELECT tree_size FROM log_state WHERE id = 1) AS log_size`,
    ).get() as Row;
    return {
      identities: num(r.identities),
      oneTimePrekeys: num(r.prekeys),
      kemOneTimePrekeys: num(r.kem_prekeys),
      logSize: num(r.log_size),
    };
  }

  /**
   * Appends many log entries in one transaction and signs only the final head: for importing
   * a log and for building large logs in benchmarks. Identities are not touched.
   */
  importLogEntries(
    entries: Iterable<Omit<StoredLogEntry, 'index'>>,
    now: number,
    signHead: HeadSigner,
  ): number {
    const run = this.db.transaction(() => {
      const size = num(
        (this.stmt('SELECT tree_size FROM log_state WHERE id = 1').get() as Row).tree_size,
      );
      const frontier = MerkleFrontier.fromCover(size, this.readNodes(rangeCover(0, size)));
      const insertEntry = this.stmt(
        'INSERT INTO log_entries (idx, handle, identity_key, action, sequence, timestamp) VALUES (?, ?, ?, ?, ?, ?)',
      );
      const insertNode = this.stmt('INSERT INTO log_nodes (level, idx, hash) VALUES (?, ?, ?)');
      for (const e of entries) {
        const index = frontier.size;
        for (const n of frontier.append(leafHash(encodeLogEntry(e))))
          insertNode.run(n.level, n.index, blob(n.hash));
        insertEntry.run(index, e.handle, blob(e.identityKey), e.action, e.sequence, e.timestamp);
      }
      const root = frontier.root();
      const ts = seconds(now);
      this.stmt(
        'INSERT INTO tree_heads (tree_size, root_hash, timestamp, signature) VALUES (?, ?, ?, ?)',
      ).run(frontier.size, blob(root), ts, blob(signHead(frontier.size, root, ts)));
      this.stmt('UPDATE log_state SET tree_size = ? WHERE id = 1').run(frontier.size);
      return frontier.size;
    });
    const size = run.immediate();
    // Fold the large WAL back into the database file so later reads need not search it.
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    return size;
  }

  async close(): Promise<void> {
    this.statements.clear();
    this.db.close();
  }
}

export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(options);
}
