// SQLite implementation of the directory store (the default): one file, WAL journal, every write
// in one IMMEDIATE transaction. better-sqlite3 is synchronous, so a transaction never interleaves
// with another request on the same connection.
import Database from 'better-sqlite3';
import { encodeLogEntry, leafHash, type LeafEntry } from '../extension/protocol/transparency';
import { type LinkStore, SqliteLinkStore } from './link-store';
import { MerkleFrontier, rangeCover } from './log';
import { LABELS_VERSION, LATEST_VERSION, migrationSteps } from './migrations/index';
import {
  type Bundle,
  type DeleteInput,
  type DeleteResult,
  type DeviceBundle,
  type DeviceListRecord,
  type DevicePrekeyCounts,
  type DevicePrekeysInput,
  type DirectoryStore,
  type HandleLabel,
  type HeadSigner,
  type IdentityRecord,
  type LoggedEntry,
  type KemPrekeyCounts,
  type KemPrekeyRecord,
  type NodeRef,
  type PublishInput,
  type PublishResult,
  type PutDeviceListInput,
  type PutDeviceListResult,
  type PutDevicePrekeysResult,
  type PutSyncInput,
  type PutSyncResult,
  type StoreStats,
  type SyncBlob,
  type StoredLogEntry,
  type StoredTreeHead,
  type WriteContext,
  StoreIntegrityError,
} from './store';
import {
  DEVICE_TABLES,
  HandleLabels,
  Rollback,
  type Row,
  generateVrfKey,
  keyEntryFromRow,
  labelledEntry,
  blob,
  deviceListFromRow,
  deviceListLogEntry,
  deviceListRowValues,
  deviceListUpsertSql,
  droppedDevices,
  identityFromRow,
  identityRowValues,
  identityUpsertSql,
  isOtherListedDevice,
  kemPrekeyFromRow,
  listedDevice,
  logEntryFromRow,
  num,
  planDeviceList,
  planPublish,
  planSync,
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
  private labels: HandleLabels | undefined;
  /**
   * Whether the schema has handle labels (migration 5). Below it (only while a test holds an
   * older schema) entries are written and read as v1, handle in the clear, as before.
   */
  private labelled = true;
  readonly links: LinkStore;

  constructor(options: SqliteStoreOptions) {
    this.db = new Database(options.file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    this.db.pragma('foreign_keys = ON');
    // Deleted rows are overwritten with zeros, not left in free space: a deleted handle must
    // not survive in the file (erasure.test.ts reads the raw file).
    this.db.pragma('secure_delete = ON');
    this.db.pragma('busy_timeout = 5000');
    // Proofs read scattered Merkle nodes: keep hot pages in memory and map the file.
    this.db.pragma('cache_size = -65536');
    this.db.pragma('mmap_size = 1073741824');
    this.links = new SqliteLinkStore(this.db);
  }

  /** The open database, for tests that read every table (erasure.test.ts). */
  get database(): Database.Database {
    return this.db;
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
    this.labels = undefined;
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
    this.labelled = this.currentVersion() >= LABELS_VERSION;
  }

  private currentVersion(): number {
    const row = this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as Row;
    return num(row.v ?? 0);
  }

  async schemaVersion(): Promise<number> {
    return this.currentVersion();
  }

  /** The VRF key, loaded or generated on first use (inside a caller's transaction is fine). */
  private handleLabels(generate = generateVrfKey): HandleLabels {
    if (this.labels) return this.labels;
    const run = this.db.transaction(() => {
      const row = this.stmt('SELECT secret_key FROM vrf_key WHERE id = 1').get() as Row | undefined;
      if (row) return u8(row.secret_key);
      const key = generate();
      this.stmt('INSERT INTO vrf_key (id, secret_key, created_at) VALUES (1, ?, ?)').run(
        blob(key),
        Date.now(),
      );
      return key;
    });
    this.labels = new HandleLabels(this.db.inTransaction ? run() : run.immediate());
    return this.labels;
  }

  async loadOrCreateVrfKey(generate: () => Uint8Array): Promise<Uint8Array> {
    this.labels = undefined;
    this.handleLabels(generate);
    return u8((this.stmt('SELECT secret_key FROM vrf_key WHERE id = 1').get() as Row).secret_key);
  }

  async vrfPublicKey(): Promise<Uint8Array> {
    return this.handleLabels().publicKey;
  }

  async handleLabel(handle: string): Promise<HandleLabel> {
    return this.handleLabels().of(handle);
  }

  private labelOf(handle: string): Uint8Array {
    return this.handleLabels().of(handle).label;
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

  /**
   * Appends one entry of `handle` to the log inside the caller's transaction, as a v2 entry (its
   * label, not the handle); returns its index.
   */
  private appendLog(
    handle: string,
    planned: Omit<StoredLogEntry, 'index'>,
    signHead: HeadSigner,
  ): number {
    const entry = this.labelled
      ? labelledEntry(planned, this.labelOf(handle))
      : { ...planned, handle };
    const size = num(
      (this.stmt('SELECT tree_size FROM log_state WHERE id = 1').get() as Row).tree_size,
    );
    const frontier = MerkleFrontier.fromCover(size, this.readNodes(rangeCover(0, size)));
    const created = frontier.append(leafHash(encodeLogEntry(entry as LeafEntry)));
    this.stmt(
      `INSERT INTO log_entries (idx, ${this.labelled ? 'label' : 'handle'}, identity_key, action, sequence, timestamp) VALUES (?, ?, ?, ?, ?, ?)`,
    ).run(
      size,
      this.labelled ? blob(entry.label!) : handle,
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
    if (!this.labelled)
      return num(
        (
          this.stmt('SELECT MAX(sequence) AS s FROM log_entries WHERE handle = ?').get(
            handle,
          ) as Row
        ).s ?? 0,
      );
    // v1 entries by handle, v2 and redacted ones by label: one sequence across the migration.
    const r = this.stmt(
      `SELECT MAX(s) AS s FROM (
         SELECT MAX(sequence) AS s FROM log_entries WHERE handle = ?
         UNION ALL SELECT MAX(sequence) FROM log_entries WHERE label = ?)`,
    ).get(handle, blob(this.labelOf(handle))) as Row;
    return num(r.s ?? 0);
  }

  async publish(input: PublishInput, ctx: WriteContext): Promise<PublishResult> {
    const run = this.db.transaction((): PublishResult => {
      if (!this.consumeNonce(ctx)) return { ok: false, reason: 'replay' };
      const current = this.readIdentity(input.handle);
      const plan = planPublish(input, current, this.lastSequence(input.handle), ctx.now);
      if (!plan.ok) return plan;
      const logIndex = plan.loggedAt ?? this.appendLog(input.handle, plan.entry, ctx.signHead);
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
        input.handle,
        {
          identityKey: current.identityKey,
          action: 'delete',
          sequence,
          timestamp: seconds(ctx.now),
        },
        ctx.signHead,
      );
      this.dropKeyMaterial(input.handle);
      this.stmt('DELETE FROM sync_blobs WHERE handle = ?').run(input.handle);
      this.stmt('DELETE FROM device_seen WHERE handle = ?').run(input.handle);
      this.stmt('DELETE FROM identities WHERE handle = ?').run(input.handle);
      // Erase the handle from its pre-migration (v1) entries: keep the leaf hash the tree was
      // built from and the sequence; the label ties them to the handle's later entries.
      if (this.labelled)
        this.stmt(
          `UPDATE log_entries SET handle = NULL, identity_key = NULL, label = ?,
           leaf_hash = (SELECT hash FROM log_nodes WHERE level = 0 AND idx = log_entries.idx)
         WHERE handle = ?`,
        ).run(blob(this.labelOf(input.handle)), input.handle);
      return { ok: true, logIndex, sequence };
    });
    const result = run.immediate();
    if (result.ok) {
      this.labels?.forget(input.handle);
      // Old page images in the WAL still hold the handle: fold the WAL into the (zeroed) file.
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    }
    return result;
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
      const logIndex = this.appendLog(input.handle, entry, ctx.signHead);
      this.stmt(UPSERT_DEVICE_LIST).run(
        ...deviceListRowValues(input.list, entry, logIndex, ctx.now),
      );
      const devices = this.stmt(
        'SELECT device_id, device_key FROM device_keys WHERE handle = ?',
      ).all(input.handle) as Row[];
      for (const id of droppedDevices(devices, input.list)) this.dropDevice(input.handle, id);
      return { ok: true, logIndex, sequence: entry.sequence };
    });
    return run.immediate();
  }

  async getDeviceList(handle: string): Promise<DeviceListRecord | undefined> {
    return this.readDeviceList(handle);
  }

  async takeBundle(handle: string): Promise<Bundle | undefined> {
    const run = this.db.transaction((): Bundle | undefined => {
      const identity = this.readIdentity(handle);
      return identity && { identity, ...this.takeIdentityPrekeys(handle) };
    });
    return run.immediate();
  }

  /** Inside the caller's transaction: the identity's lowest one-time prekeys (X25519, KEM). */
  private takeIdentityPrekeys(handle: string): Omit<Bundle, 'identity'> {
    const r = this.stmt(
      `DELETE FROM one_time_prekeys WHERE handle = @handle AND id =
         (SELECT id FROM one_time_prekeys WHERE handle = @handle ORDER BY id LIMIT 1)
       RETURNING id, public_key`,
    ).get({ handle }) as Row | undefined;
    const kemPrekey = this.takeKemPrekey(handle);
    return {
      ...(r ? { oneTimePrekey: { id: num(r.id), publicKey: u8(r.public_key) } } : {}),
      ...(kemPrekey ? { kemPrekey } : {}),
    };
  }

  private readDeviceList(handle: string): DeviceListRecord | undefined {
    const r = this.stmt('SELECT * FROM device_lists WHERE handle = ?').get(handle) as
      Row | undefined;
    return r && deviceListFromRow(r);
  }

  /** Inside the caller's transaction: a device's key row and every prekey of it. */
  private dropDevice(handle: string, deviceId: number): void {
    for (const table of DEVICE_TABLES)
      this.stmt(`DELETE FROM ${table} WHERE handle = ? AND device_id = ?`).run(handle, deviceId);
  }

  async putDevicePrekeys(
    input: DevicePrekeysInput,
    ctx: WriteContext,
  ): Promise<PutDevicePrekeysResult> {
    const { handle, deviceId } = input;
    const run = this.db.transaction((): PutDevicePrekeysResult => {
      if (!this.consumeNonce(ctx)) return { ok: false, reason: 'replay' };
      const identity = this.readIdentity(handle);
      if (!isOtherListedDevice(identity, this.readDeviceList(handle), deviceId, input.deviceKey))
        return { ok: false, reason: 'not-listed' };
      const spk = input.signedPrekey;
      this.stmt(
        `INSERT INTO device_keys (handle, device_id, device_key, spk_id, spk_public_key,
           spk_signature, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (handle, device_id) DO UPDATE SET device_key = excluded.device_key,
           spk_id = excluded.spk_id, spk_public_key = excluded.spk_public_key,
           spk_signature = excluded.spk_signature, updated_at = excluded.updated_at`,
      ).run(
        handle,
        deviceId,
        blob(input.deviceKey),
        spk.id,
        blob(spk.publicKey),
        blob(spk.signature),
        ctx.now,
      );
      const upsert = this.stmt(
        `INSERT INTO device_one_time_prekeys (handle, device_id, id, public_key) VALUES (?, ?, ?, ?)
         ON CONFLICT (handle, device_id, id) DO UPDATE SET public_key = excluded.public_key`,
      );
      for (const k of input.oneTimePrekeys) upsert.run(handle, deviceId, k.id, blob(k.publicKey));
      const kem = input.kemPrekeys;
      if (kem?.lastResort) {
        const k = kem.lastResort;
        this.stmt(
          `INSERT INTO device_kem_last_resort_prekeys (handle, device_id, id, public_key, signature)
           VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (handle, device_id) DO UPDATE SET id = excluded.id,
             public_key = excluded.public_key, signature = excluded.signature`,
        ).run(handle, deviceId, k.id, blob(k.publicKey), blob(k.signature));
      }
      const upsertKem = this.stmt(
        `INSERT INTO device_kem_one_time_prekeys (handle, device_id, id, public_key, signature)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (handle, device_id, id) DO UPDATE SET public_key = excluded.public_key,
           signature = excluded.signature`,
      );
      for (const k of kem?.oneTime ?? [])
        upsertKem.run(handle, deviceId, k.id, blob(k.publicKey), blob(k.signature));
      const counts = this.deviceCounts(handle, deviceId);
      if (counts.oneTimePrekeys > input.maxStoredOneTimePrekeys)
        throw new Rollback<PutDevicePrekeysResult>({ ok: false, reason: 'too-many-prekeys' });
      if (counts.kem.oneTime > input.maxStoredKemPrekeys)
        throw new Rollback<PutDevicePrekeysResult>({ ok: false, reason: 'too-many-kem-prekeys' });
      return {
        ok: true,
        oneTimePrekeys: counts.oneTimePrekeys,
        kemOneTimePrekeys: counts.kem.oneTime,
      };
    });
    try {
      return run.immediate();
    } catch (e) {
      if (e instanceof Rollback) return e.result as PutDevicePrekeysResult;
      throw e;
    }
  }

  private deviceCounts(
    handle: string,
    deviceId: number,
  ): Omit<DevicePrekeyCounts, 'signedPrekeyId'> {
    const r = this.stmt(
      `SELECT
         (SELECT COUNT(*) FROM device_one_time_prekeys WHERE handle = @handle AND device_id = @id) AS n,
         (SELECT COUNT(*) FROM device_kem_one_time_prekeys WHERE handle = @handle AND device_id = @id) AS kem,
         (SELECT id FROM device_kem_last_resort_prekeys WHERE handle = @handle AND device_id = @id) AS last_resort_id`,
    ).get({ handle, id: deviceId }) as Row;
    return {
      oneTimePrekeys: num(r.n),
      kem: {
        oneTime: num(r.kem),
        lastResortId: r.last_resort_id == null ? null : num(r.last_resort_id),
      },
    };
  }

  async takeDeviceBundle(handle: string, deviceId: number): Promise<DeviceBundle | undefined> {
    const run = this.db.transaction((): DeviceBundle | undefined => {
      const identity = this.readIdentity(handle);
      const deviceList = this.readDeviceList(handle);
      const device = listedDevice(deviceList, deviceId);
      if (!identity || !deviceList || !device) return undefined;
      if (sameBytes(device.key, identity.identityKey))
        return {
          deviceList,
          device,
          signedPrekey: identity.signedPrekey,
          ...this.takeIdentityPrekeys(handle),
        };
      const row = this.stmt(
        `SELECT spk_id, spk_public_key, spk_signature FROM device_keys
         WHERE handle = ? AND device_id = ? AND device_key = ?`,
      ).get(handle, deviceId, blob(device.key)) as Row | undefined;
      if (!row) return undefined;
      const at = { handle, id: deviceId };
      const r = this.stmt(
        `DELETE FROM device_one_time_prekeys WHERE handle = @handle AND device_id = @id AND id =
           (SELECT id FROM device_one_time_prekeys WHERE handle = @handle AND device_id = @id
            ORDER BY id LIMIT 1)
         RETURNING id, public_key`,
      ).get(at) as Row | undefined;
      const kem =
        (this.stmt(
          `DELETE FROM device_kem_one_time_prekeys WHERE handle = @handle AND device_id = @id AND id =
             (SELECT id FROM device_kem_one_time_prekeys WHERE handle = @handle AND device_id = @id
              ORDER BY id LIMIT 1)
           RETURNING id, public_key, signature`,
        ).get(at) as Row | undefined) ?? undefined;
      const lastResort = kem
        ? undefined
        : (this.stmt(
            `SELECT id, public_key, signature FROM device_kem_last_resort_prekeys
             WHERE handle = @handle AND device_id = @id`,
          ).get(at) as Row | undefined);
      const kemPrekey = kem
        ? kemPrekeyFromRow(kem, false)
        : lastResort && kemPrekeyFromRow(lastResort, true);
      return {
        deviceList,
        device,
        signedPrekey: {
          id: num(row.spk_id),
          publicKey: u8(row.spk_public_key),
          signature: u8(row.spk_signature),
        },
        ...(r ? { oneTimePrekey: { id: num(r.id), publicKey: u8(r.public_key) } } : {}),
        ...(kemPrekey ? { kemPrekey } : {}),
      };
    });
    return run.immediate();
  }

  async countDevicePrekeys(
    handle: string,
    deviceId: number,
    deviceKey: Uint8Array,
  ): Promise<DevicePrekeyCounts | undefined> {
    const row = this.stmt(
      'SELECT spk_id FROM device_keys WHERE handle = ? AND device_id = ? AND device_key = ?',
    ).get(handle, deviceId, blob(deviceKey)) as Row | undefined;
    return row && { signedPrekeyId: num(row.spk_id), ...this.deviceCounts(handle, deviceId) };
  }

  async putSyncBlob(input: PutSyncInput, ctx: WriteContext): Promise<PutSyncResult> {
    const run = this.db.transaction((): PutSyncResult => {
      if (!this.consumeNonce(ctx)) return { ok: false, reason: 'replay' };
      const stored = this.stmt('SELECT version FROM sync_blobs WHERE handle = ?').get(
        input.handle,
      ) as Row | undefined;
      const refused = planSync(
        input,
        this.readIdentity(input.handle),
        this.readDeviceList(input.handle),
        stored && num(stored.version),
      );
      if (refused) return refused;
      this.stmt(
        `INSERT INTO sync_blobs (handle, version, ciphertext, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (handle) DO UPDATE SET version = excluded.version,
           ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`,
      ).run(input.handle, input.version, blob(input.ciphertext), ctx.now);
      return { ok: true };
    });
    return run.immediate();
  }

  async getSyncBlob(handle: string): Promise<SyncBlob | undefined> {
    const r = this.stmt('SELECT * FROM sync_blobs WHERE handle = ?').get(handle) as Row | undefined;
    return (
      r && { version: num(r.version), ciphertext: u8(r.ciphertext), updatedAt: num(r.updated_at) }
    );
  }

  async noteDeviceSeen(handle: string, deviceId: number, at: number): Promise<void> {
    this.stmt(
      `INSERT INTO device_seen (handle, device_id, seen_at) VALUES (?, ?, ?)
       ON CONFLICT (handle, device_id) DO UPDATE SET seen_at = max(seen_at, excluded.seen_at)`,
    ).run(handle, deviceId, at);
  }

  async devicesSeen(handle: string): Promise<{ deviceId: number; at: number }[]> {
    const rows = this.stmt(
      'SELECT device_id, seen_at FROM device_seen WHERE handle = ? ORDER BY device_id',
    ).all(handle) as Row[];
    return rows.map((r) => ({ deviceId: num(r.device_id), at: num(r.seen_at) }));
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
   * Inside the caller's transaction (a rotation, a deletion): every prekey of the handle, its
   * device list (signed by the key that goes) and the listed devices' prekeys.
   */
  private dropKeyMaterial(handle: string): void {
    this.stmt('DELETE FROM one_time_prekeys WHERE handle = ?').run(handle);
    this.stmt('DELETE FROM kem_one_time_prekeys WHERE handle = ?').run(handle);
    this.stmt('DELETE FROM kem_last_resort_prekeys WHERE handle = ?').run(handle);
    this.stmt('DELETE FROM device_lists WHERE handle = ?').run(handle);
    for (const table of DEVICE_TABLES)
      this.stmt(`DELETE FROM ${table} WHERE handle = ?`).run(handle);
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

  /** `handle = ?` below migration 5, else also its label's entries; with the parameters. */
  private byHandle(handle: string): { where: string; params: unknown[] } {
    return this.labelled
      ? { where: '(handle = ? OR label = ?)', params: [handle, blob(this.labelOf(handle))] }
      : { where: 'handle = ?', params: [handle] };
  }

  async latestKeyEntry(handle: string): Promise<StoredLogEntry | undefined> {
    if (!this.labelled) {
      const r = this.stmt(
        "SELECT * FROM log_entries WHERE handle = ? AND action <> 'devices' ORDER BY sequence DESC LIMIT 1",
      ).get(handle) as Row | undefined;
      return r && keyEntryFromRow(r);
    }
    const r = this.stmt(
      `SELECT * FROM log_entries WHERE (handle = ? OR label = ?) AND action <> 'devices'
         AND leaf_hash IS NULL ORDER BY sequence DESC LIMIT 1`,
    ).get(handle, blob(this.labelOf(handle))) as Row | undefined;
    return r && keyEntryFromRow(r);
  }

  async logEntriesForHandle(
    handle: string,
    afterSequence: number,
    limit: number,
  ): Promise<LoggedEntry[]> {
    // Served by the unique (handle, sequence) and (label, sequence) indexes.
    const { where, params } = this.byHandle(handle);
    const rows = this.stmt(
      `SELECT * FROM log_entries WHERE ${where} AND sequence > ? ORDER BY sequence LIMIT ?`,
    ).all(...params, afterSequence, limit) as Row[];
    return rows.map(logEntryFromRow);
  }

  async getLogEntries(start: number, count: number): Promise<LoggedEntry[]> {
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
        'INSERT INTO log_entries (idx, handle, label, identity_key, action, sequence, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      const insertNode = this.stmt('INSERT INTO log_nodes (level, idx, hash) VALUES (?, ?, ?)');
      for (const e of entries) {
        const index = frontier.size;
        for (const n of frontier.append(leafHash(encodeLogEntry(e as LeafEntry))))
          insertNode.run(n.level, n.index, blob(n.hash));
        insertEntry.run(
          index,
          e.label ? null : e.handle,
          e.label ? blob(e.label) : null,
          blob(e.identityKey),
          e.action,
          e.sequence,
          e.timestamp,
        );
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
