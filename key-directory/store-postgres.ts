// PostgreSQL implementation of the directory store (for scale; several directory processes may
// share one database). Writers serialize on the single `log_state` row (SELECT … FOR UPDATE), so
// log appends are strictly ordered; bundle fetches take one-time prekeys (X25519 and KEM) with
// FOR UPDATE SKIP LOCKED, so concurrent fetches never receive the same one.
import pg from 'pg';
import { encodeLogEntry, leafHash, type LeafEntry } from '../extension/protocol/transparency';
import { type LinkStore, PostgresLinkStore } from './link-store';
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
  type HeadSigner,
  type IdentityRecord,
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
  type HandleLabel,
  type LoggedEntry,
  type StoredLogEntry,
  type StoredTreeHead,
  type WriteContext,
  StoreIntegrityError,
} from './store';
import {
  DEVICE_TABLES,
  HandleLabels,
  Rollback,
  generateVrfKey,
  keyEntryFromRow,
  labelledEntry,
  type Row,
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

export interface PostgresStoreOptions {
  connectionString: string;
  /** A schema to create and use instead of `public` (tests use one per suite). */
  schema?: string;
  /** Pool size (default 10). */
  maxConnections?: number;
}

type Queryable = pg.Pool | pg.PoolClient;

const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
const UPSERT_IDENTITY = identityUpsertSql((n) => `$${n}`);
const UPSERT_DEVICE_LIST = deviceListUpsertSql((n) => `$${n}`);

export class PostgresStore implements DirectoryStore {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  readonly links: LinkStore;

  constructor(private readonly options: PostgresStoreOptions) {
    if (options.schema !== undefined && !SCHEMA_PATTERN.test(options.schema))
      throw new Error('invalid schema name');
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      options: options.schema ? `-c search_path=${options.schema}` : undefined,
    });
    // An idle client that errors (server restart) must not crash the process.
    this.pool.on('error', () => {});
    this.links = new PostgresLinkStore(this.pool);
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const result = await fn(c);
      await c.query('COMMIT');
      return result;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      if (e instanceof Rollback) return e.result as T;
      throw e;
    } finally {
      c.release();
    }
  }

  async migrate(target = LATEST_VERSION): Promise<void> {
    this.labels = undefined;
    if (this.options.schema)
      await this.pool.query(`CREATE SCHEMA IF NOT EXISTS ${this.options.schema}`);
    await this.tx(async (c) => {
      // One migrator at a time per schema, even across processes.
      await c.query(
        `SELECT pg_advisory_xact_lock(hashtext('veil-directory-migrate:' || current_schema()))`,
      );
      await c.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
      );
      const current = await this.currentVersion(c);
      for (const { migration, direction } of migrationSteps(current, target)) {
        await c.query(migration.postgres[direction]);
        if (direction === 'up')
          await c.query(
            'INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)',
            [migration.version, migration.name, Date.now()],
          );
        else await c.query('DELETE FROM schema_migrations WHERE version = $1', [migration.version]);
      }
    });
    this.labelled = (await this.currentVersion(this.pool)) >= LABELS_VERSION;
  }

  private async currentVersion(q: Queryable): Promise<number> {
    const r = await q.query('SELECT MAX(version) AS v FROM schema_migrations');
    return num(r.rows[0]?.v ?? 0);
  }

  async schemaVersion(): Promise<number> {
    return this.currentVersion(this.pool);
  }

  private labels: Promise<HandleLabels> | undefined;
  /**
   * Whether the schema has handle labels (migration 5). Below it (only while a test holds an
   * older schema) entries are written and read as v1, handle in the clear, as before.
   */
  private labelled = true;

  /** The VRF key, loaded or generated (once, for every process sharing the database). */
  private handleLabels(generate = generateVrfKey): Promise<HandleLabels> {
    return (this.labels ??= (async () => {
      await this.pool.query(
        'INSERT INTO vrf_key (id, secret_key, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING',
        [blob(generate()), Date.now()],
      );
      const r = await this.pool.query('SELECT secret_key FROM vrf_key WHERE id = 1');
      return new HandleLabels(u8(r.rows[0].secret_key));
    })().catch((e: unknown) => {
      this.labels = undefined;
      throw e;
    }));
  }

  async loadOrCreateVrfKey(generate: () => Uint8Array): Promise<Uint8Array> {
    this.labels = undefined;
    await this.handleLabels(generate);
    const r = await this.pool.query('SELECT secret_key FROM vrf_key WHERE id = 1');
    return u8(r.rows[0].secret_key);
  }

  async vrfPublicKey(): Promise<Uint8Array> {
    return (await this.handleLabels()).publicKey;
  }

  async handleLabel(handle: string): Promise<HandleLabel> {
    return (await this.handleLabels()).of(handle);
  }

  private async labelOf(handle: string): Promise<Buffer> {
    return blob((await this.handleLabel(handle)).label);
  }

  async loadOrCreateDirectoryKey(generate: () => Uint8Array, now: number): Promise<Uint8Array> {
    await this.pool.query(
      'INSERT INTO directory_key (id, secret_key, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING',
      [blob(generate()), now],
    );
    const r = await this.pool.query('SELECT secret_key FROM directory_key WHERE id = 1');
    return u8(r.rows[0].secret_key);
  }

  async ensureHead(now: number, signHead: HeadSigner): Promise<void> {
    await this.tx(async (c) => {
      const state = await c.query('SELECT tree_size FROM log_state WHERE id = 1 FOR UPDATE');
      const existing = await c.query('SELECT 1 FROM tree_heads LIMIT 1');
      if (existing.rowCount) return;
      if (num(state.rows[0].tree_size) !== 0)
        throw new StoreIntegrityError('log has entries but no signed head');
      const root = MerkleFrontier.empty().root();
      const ts = seconds(now);
      await c.query(
        'INSERT INTO tree_heads (tree_size, root_hash, timestamp, signature) VALUES (0, $1, $2, $3)',
        [blob(root), ts, blob(signHead(0, root, ts))],
      );
    });
  }

  async latestHead(): Promise<StoredTreeHead | undefined> {
    const r = await this.pool.query('SELECT * FROM tree_heads ORDER BY tree_size DESC LIMIT 1');
    const row = r.rows[0] as Row | undefined;
    return (
      row && {
        treeSize: num(row.tree_size),
        rootHash: u8(row.root_hash),
        timestamp: num(row.timestamp),
        signature: u8(row.signature),
      }
    );
  }

  async treeSize(): Promise<number> {
    const r = await this.pool.query('SELECT tree_size FROM log_state WHERE id = 1');
    return num(r.rows[0].tree_size);
  }

  async getIdentity(handle: string): Promise<IdentityRecord | undefined> {
    const r = await this.pool.query('SELECT * FROM identities WHERE handle = $1', [handle]);
    return r.rows[0] ? identityFromRow(r.rows[0]) : undefined;
  }

  /** Locks the log for this transaction (all writers queue here) and returns its size. */
  private async lockLog(c: pg.PoolClient): Promise<number> {
    const r = await c.query('SELECT tree_size FROM log_state WHERE id = 1 FOR UPDATE');
    return num(r.rows[0].tree_size);
  }

  private async consumeNonce(c: pg.PoolClient, ctx: WriteContext): Promise<boolean> {
    await c.query('DELETE FROM request_nonces WHERE expires_at < $1', [ctx.now]);
    const r = await c.query(
      'INSERT INTO request_nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING',
      [ctx.nonce, ctx.nonceExpiresAt],
    );
    return r.rowCount === 1;
  }

  /**
   * The handle's latest sequence in the log (0 if none), deletions and device lists included:
   * key and device-list entries share one sequence per handle.
   */
  private async lastSequence(c: pg.PoolClient, handle: string): Promise<number> {
    if (!this.labelled) {
      const r = await c.query('SELECT MAX(sequence) AS s FROM log_entries WHERE handle = $1', [
        handle,
      ]);
      return num(r.rows[0]?.s ?? 0);
    }
    // v1 entries by handle, v2 and redacted ones by label: one sequence across the migration.
    const r = await c.query(
      `SELECT GREATEST((SELECT MAX(sequence) FROM log_entries WHERE handle = $1),
                       (SELECT MAX(sequence) FROM log_entries WHERE label = $2)) AS s`,
      [handle, await this.labelOf(handle)],
    );
    return num(r.rows[0]?.s ?? 0);
  }

  /** Appends one entry of `handle` as a v2 entry (its label, not the handle); returns its index. */
  private async appendLog(
    c: pg.PoolClient,
    size: number,
    handle: string,
    planned: Omit<StoredLogEntry, 'index'>,
    signHead: HeadSigner,
  ): Promise<number> {
    const entry = this.labelled
      ? labelledEntry(planned, u8(await this.labelOf(handle)))
      : { ...planned, handle };
    const frontier = MerkleFrontier.fromCover(size, await this.readNodes(c, rangeCover(0, size)));
    const created = frontier.append(leafHash(encodeLogEntry(entry as LeafEntry)));
    await c.query(
      `INSERT INTO log_entries (idx, ${this.labelled ? 'label' : 'handle'}, identity_key, action, sequence, timestamp) VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        size,
        this.labelled ? blob(entry.label!) : handle,
        blob(entry.identityKey),
        entry.action,
        entry.sequence,
        entry.timestamp,
      ],
    );
    await c.query(
      'INSERT INTO log_nodes (level, idx, hash) SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])',
      [created.map((n) => n.level), created.map((n) => n.index), created.map((n) => blob(n.hash))],
    );
    const root = frontier.root();
    await c.query(
      'INSERT INTO tree_heads (tree_size, root_hash, timestamp, signature) VALUES ($1, $2, $3, $4)',
      [size + 1, blob(root), entry.timestamp, blob(signHead(size + 1, root, entry.timestamp))],
    );
    await c.query('UPDATE log_state SET tree_size = $1 WHERE id = 1', [size + 1]);
    return size;
  }

  async publish(input: PublishInput, ctx: WriteContext): Promise<PublishResult> {
    return this.tx(async (c): Promise<PublishResult> => {
      const size = await this.lockLog(c);
      if (!(await this.consumeNonce(c, ctx))) return { ok: false, reason: 'replay' };
      const cur = await c.query('SELECT * FROM identities WHERE handle = $1 FOR UPDATE', [
        input.handle,
      ]);
      const current = cur.rows[0] ? identityFromRow(cur.rows[0]) : undefined;
      const plan = planPublish(input, current, await this.lastSequence(c, input.handle), ctx.now);
      if (!plan.ok) return plan;
      const logIndex =
        plan.loggedAt ?? (await this.appendLog(c, size, input.handle, plan.entry, ctx.signHead));
      if (plan.dropOneTimePrekeys) await this.dropKeyMaterial(c, input.handle);
      await c.query(UPSERT_IDENTITY, identityRowValues(input, plan, logIndex));
      if (input.oneTimePrekeys.length > 0)
        await c.query(
          `INSERT INTO one_time_prekeys (handle, id, public_key)
           SELECT $1, * FROM unnest($2::bigint[], $3::bytea[])
           ON CONFLICT (handle, id) DO UPDATE SET public_key = excluded.public_key`,
          [
            input.handle,
            input.oneTimePrekeys.map((k) => k.id),
            input.oneTimePrekeys.map((k) => blob(k.publicKey)),
          ],
        );
      const count = num(
        (
          await c.query('SELECT COUNT(*) AS n FROM one_time_prekeys WHERE handle = $1', [
            input.handle,
          ])
        ).rows[0].n,
      );
      if (count > input.maxStoredOneTimePrekeys)
        throw new Rollback<PublishResult>({ ok: false, reason: 'too-many-prekeys' });
      const kem = input.kemPrekeys;
      if (kem?.lastResort) {
        const k = kem.lastResort;
        await c.query(
          `INSERT INTO kem_last_resort_prekeys (handle, id, public_key, signature) VALUES ($1, $2, $3, $4)
           ON CONFLICT (handle) DO UPDATE SET id = excluded.id, public_key = excluded.public_key,
             signature = excluded.signature`,
          [input.handle, k.id, blob(k.publicKey), blob(k.signature)],
        );
      }
      const kemOneTime = kem?.oneTime ?? [];
      if (kemOneTime.length > 0)
        await c.query(
          `INSERT INTO kem_one_time_prekeys (handle, id, public_key, signature)
           SELECT $1, * FROM unnest($2::bigint[], $3::bytea[], $4::bytea[])
           ON CONFLICT (handle, id) DO UPDATE SET public_key = excluded.public_key,
             signature = excluded.signature`,
          [
            input.handle,
            kemOneTime.map((k) => k.id),
            kemOneTime.map((k) => blob(k.publicKey)),
            kemOneTime.map((k) => blob(k.signature)),
          ],
        );
      const kemCount = (await this.kemCounts(c, input.handle)).oneTime;
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
  }

  async deleteIdentity(input: DeleteInput, ctx: WriteContext): Promise<DeleteResult> {
    const result = await this.tx(async (c): Promise<DeleteResult> => {
      const size = await this.lockLog(c);
      if (!(await this.consumeNonce(c, ctx))) return { ok: false, reason: 'replay' };
      const cur = await c.query('SELECT * FROM identities WHERE handle = $1 FOR UPDATE', [
        input.handle,
      ]);
      if (!cur.rows[0]) return { ok: false, reason: 'not-found' };
      const current = identityFromRow(cur.rows[0]);
      if (!sameBytes(current.identityKey, input.expectedCurrentKey))
        return { ok: false, reason: 'conflict' };
      const sequence = (await this.lastSequence(c, input.handle)) + 1;
      const logIndex = await this.appendLog(
        c,
        size,
        input.handle,
        {
          identityKey: current.identityKey,
          action: 'delete',
          sequence,
          timestamp: seconds(ctx.now),
        },
        ctx.signHead,
      );
      await this.dropKeyMaterial(c, input.handle);
      await c.query('DELETE FROM sync_blobs WHERE handle = $1', [input.handle]);
      await c.query('DELETE FROM device_seen WHERE handle = $1', [input.handle]);
      await c.query('DELETE FROM identities WHERE handle = $1', [input.handle]);
      // Erase the handle from its pre-migration (v1) entries: keep the leaf hash the tree was
      // built from and the sequence; the label ties them to the handle's later entries.
      if (this.labelled)
        await c.query(
          `UPDATE log_entries SET handle = NULL, identity_key = NULL, label = $1,
           leaf_hash = (SELECT hash FROM log_nodes WHERE level = 0 AND idx = log_entries.idx)
         WHERE handle = $2`,
          [await this.labelOf(input.handle), input.handle],
        );
      return { ok: true, logIndex, sequence };
    });
    if (result.ok) (await this.handleLabels()).forget(input.handle);
    return result;
  }

  async putDeviceList(input: PutDeviceListInput, ctx: WriteContext): Promise<PutDeviceListResult> {
    return this.tx(async (c): Promise<PutDeviceListResult> => {
      const size = await this.lockLog(c);
      if (!(await this.consumeNonce(c, ctx))) return { ok: false, reason: 'replay' };
      // FOR UPDATE: a rotation or deletion of the handle waits (it also holds the log lock).
      const cur = await c.query('SELECT * FROM identities WHERE handle = $1 FOR UPDATE', [
        input.handle,
      ]);
      const stored = await c.query('SELECT version FROM device_lists WHERE handle = $1', [
        input.handle,
      ]);
      const refused = planDeviceList(
        input,
        cur.rows[0] ? identityFromRow(cur.rows[0]) : undefined,
        stored.rows[0] ? num(stored.rows[0].version) : undefined,
      );
      if (refused) return refused;
      const entry = deviceListLogEntry(
        input.list,
        (await this.lastSequence(c, input.handle)) + 1,
        ctx.now,
      );
      const logIndex = await this.appendLog(c, size, input.handle, entry, ctx.signHead);
      await c.query(UPSERT_DEVICE_LIST, deviceListRowValues(input.list, entry, logIndex, ctx.now));
      const devices = await c.query(
        'SELECT device_id, device_key FROM device_keys WHERE handle = $1',
        [input.handle],
      );
      for (const id of droppedDevices(devices.rows as Row[], input.list))
        await this.dropDevice(c, input.handle, id);
      return { ok: true, logIndex, sequence: entry.sequence };
    });
  }

  async getDeviceList(handle: string): Promise<DeviceListRecord | undefined> {
    return this.readDeviceList(this.pool, handle);
  }

  async takeBundle(handle: string): Promise<Bundle | undefined> {
    return this.tx(async (c) => {
      // FOR SHARE: a concurrent rotation (FOR UPDATE) waits, so the bundle never mixes keys.
      const cur = await c.query('SELECT * FROM identities WHERE handle = $1 FOR SHARE', [handle]);
      if (!cur.rows[0]) return undefined;
      return {
        identity: identityFromRow(cur.rows[0]),
        ...(await this.takeIdentityPrekeys(c, handle)),
      };
    });
  }

  /** Inside the caller's transaction: the identity's lowest one-time prekeys (X25519, KEM). */
  private async takeIdentityPrekeys(
    c: pg.PoolClient,
    handle: string,
  ): Promise<Omit<Bundle, 'identity'>> {
    const r = await c.query(
      `DELETE FROM one_time_prekeys WHERE handle = $1 AND id =
         (SELECT id FROM one_time_prekeys WHERE handle = $1 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING id, public_key`,
      [handle],
    );
    const row = r.rows[0] as Row | undefined;
    const kemPrekey = await this.takeKemPrekey(c, handle);
    return {
      ...(row ? { oneTimePrekey: { id: num(row.id), publicKey: u8(row.public_key) } } : {}),
      ...(kemPrekey ? { kemPrekey } : {}),
    };
  }

  private async readDeviceList(
    q: Queryable,
    handle: string,
  ): Promise<DeviceListRecord | undefined> {
    const r = await q.query('SELECT * FROM device_lists WHERE handle = $1', [handle]);
    return r.rows[0] ? deviceListFromRow(r.rows[0] as Row) : undefined;
  }

  /** Inside the caller's transaction: a device's key row and every prekey of it. */
  private async dropDevice(c: pg.PoolClient, handle: string, deviceId: number): Promise<void> {
    for (const table of DEVICE_TABLES)
      await c.query(`DELETE FROM ${table} WHERE handle = $1 AND device_id = $2`, [
        handle,
        deviceId,
      ]);
  }

  async putDevicePrekeys(
    input: DevicePrekeysInput,
    ctx: WriteContext,
  ): Promise<PutDevicePrekeysResult> {
    const { handle, deviceId } = input;
    return this.tx(async (c): Promise<PutDevicePrekeysResult> => {
      // The log lock orders this after any device-list write or rotation of the handle.
      await this.lockLog(c);
      if (!(await this.consumeNonce(c, ctx))) return { ok: false, reason: 'replay' };
      const cur = await c.query('SELECT * FROM identities WHERE handle = $1', [handle]);
      const identity = cur.rows[0] ? identityFromRow(cur.rows[0]) : undefined;
      const list = await this.readDeviceList(c, handle);
      if (!isOtherListedDevice(identity, list, deviceId, input.deviceKey))
        return { ok: false, reason: 'not-listed' };
      const spk = input.signedPrekey;
      await c.query(
        `INSERT INTO device_keys (handle, device_id, device_key, spk_id, spk_public_key,
           spk_signature, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (handle, device_id) DO UPDATE SET device_key = excluded.device_key,
           spk_id = excluded.spk_id, spk_public_key = excluded.spk_public_key,
           spk_signature = excluded.spk_signature, updated_at = excluded.updated_at`,
        [
          handle,
          deviceId,
          blob(input.deviceKey),
          spk.id,
          blob(spk.publicKey),
          blob(spk.signature),
          ctx.now,
        ],
      );
      if (input.oneTimePrekeys.length > 0)
        await c.query(
          `INSERT INTO device_one_time_prekeys (handle, device_id, id, public_key)
           SELECT $1, $2, * FROM unnest($3::bigint[], $4::bytea[])
           ON CONFLICT (handle, device_id, id) DO UPDATE SET public_key = excluded.public_key`,
          [
            handle,
            deviceId,
            input.oneTimePrekeys.map((k) => k.id),
            input.oneTimePrekeys.map((k) => blob(k.publicKey)),
          ],
        );
      const kem = input.kemPrekeys;
      if (kem?.lastResort) {
        const k = kem.lastResort;
        await c.query(
          `INSERT INTO device_kem_last_resort_prekeys (handle, device_id, id, public_key, signature)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (handle, device_id) DO UPDATE SET id = excluded.id,
             public_key = excluded.public_key, signature = excluded.signature`,
          [handle, deviceId, k.id, blob(k.publicKey), blob(k.signature)],
        );
      }
      const kemOneTime = kem?.oneTime ?? [];
      if (kemOneTime.length > 0)
        await c.query(
          `INSERT INTO device_kem_one_time_prekeys (handle, device_id, id, public_key, signature)
           SELECT $1, $2, * FROM unnest($3::bigint[], $4::bytea[], $5::bytea[])
           ON CONFLICT (handle, device_id, id) DO UPDATE SET public_key = excluded.public_key,
             signature = excluded.signature`,
          [
            handle,
            deviceId,
            kemOneTime.map((k) => k.id),
            kemOneTime.map((k) => blob(k.publicKey)),
            kemOneTime.map((k) => blob(k.signature)),
          ],
        );
      const counts = await this.deviceCounts(c, handle, deviceId);
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
  }

  private async deviceCounts(
    q: Queryable,
    handle: string,
    deviceId: number,
  ): Promise<Omit<DevicePrekeyCounts, 'signedPrekeyId'>> {
    const r = await q.query(
      `SELECT
         (SELECT COUNT(*) FROM device_one_time_prekeys WHERE handle = $1 AND device_id = $2) AS n,
         (SELECT COUNT(*) FROM device_kem_one_time_prekeys WHERE handle = $1 AND device_id = $2) AS kem,
         (SELECT id FROM device_kem_last_resort_prekeys WHERE handle = $1 AND device_id = $2) AS last_resort_id`,
      [handle, deviceId],
    );
    const row = r.rows[0] as Row;
    return {
      oneTimePrekeys: num(row.n),
      kem: {
        oneTime: num(row.kem),
        lastResortId: row.last_resort_id == null ? null : num(row.last_resort_id),
      },
    };
  }

  async takeDeviceBundle(handle: string, deviceId: number): Promise<DeviceBundle | undefined> {
    return this.tx(async (c): Promise<DeviceBundle | undefined> => {
      // FOR SHARE on the identity and the list: a rotation, deletion or new list (FOR UPDATE on
      // the identity) waits, so the bundle and the list it is proven by belong together.
      const cur = await c.query('SELECT * FROM identities WHERE handle = $1 FOR SHARE', [handle]);
      if (!cur.rows[0]) return undefined;
      const identity = identityFromRow(cur.rows[0]);
      const deviceList = await this.readDeviceList(c, handle);
      const device = listedDevice(deviceList, deviceId);
      if (!deviceList || !device) return undefined;
      if (sameBytes(device.key, identity.identityKey))
        return {
          deviceList,
          device,
          signedPrekey: identity.signedPrekey,
          ...(await this.takeIdentityPrekeys(c, handle)),
        };
      const keys = await c.query(
        `SELECT spk_id, spk_public_key, spk_signature FROM device_keys
         WHERE handle = $1 AND device_id = $2 AND device_key = $3 FOR SHARE`,
        [handle, deviceId, blob(device.key)],
      );
      const row = keys.rows[0] as Row | undefined;
      if (!row) return undefined;
      const r = await c.query(
        `DELETE FROM device_one_time_prekeys WHERE handle = $1 AND device_id = $2 AND id =
           (SELECT id FROM device_one_time_prekeys WHERE handle = $1 AND device_id = $2
            ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id, public_key`,
        [handle, deviceId],
      );
      const otpk = r.rows[0] as Row | undefined;
      const k = await c.query(
        `DELETE FROM device_kem_one_time_prekeys WHERE handle = $1 AND device_id = $2 AND id =
           (SELECT id FROM device_kem_one_time_prekeys WHERE handle = $1 AND device_id = $2
            ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id, public_key, signature`,
        [handle, deviceId],
      );
      let kemPrekey = k.rows[0] ? kemPrekeyFromRow(k.rows[0] as Row, false) : undefined;
      if (!kemPrekey) {
        const last = await c.query(
          `SELECT id, public_key, signature FROM device_kem_last_resort_prekeys
           WHERE handle = $1 AND device_id = $2`,
          [handle, deviceId],
        );
        kemPrekey = last.rows[0] ? kemPrekeyFromRow(last.rows[0] as Row, true) : undefined;
      }
      return {
        deviceList,
        device,
        signedPrekey: {
          id: num(row.spk_id),
          publicKey: u8(row.spk_public_key),
          signature: u8(row.spk_signature),
        },
        ...(otpk ? { oneTimePrekey: { id: num(otpk.id), publicKey: u8(otpk.public_key) } } : {}),
        ...(kemPrekey ? { kemPrekey } : {}),
      };
    });
  }

  async countDevicePrekeys(
    handle: string,
    deviceId: number,
    deviceKey: Uint8Array,
  ): Promise<DevicePrekeyCounts | undefined> {
    const r = await this.pool.query(
      'SELECT spk_id FROM device_keys WHERE handle = $1 AND device_id = $2 AND device_key = $3',
      [handle, deviceId, blob(deviceKey)],
    );
    const row = r.rows[0] as Row | undefined;
    return (
      row && {
        signedPrekeyId: num(row.spk_id),
        ...(await this.deviceCounts(this.pool, handle, deviceId)),
      }
    );
  }

  async putSyncBlob(input: PutSyncInput, ctx: WriteContext): Promise<PutSyncResult> {
    return this.tx(async (c): Promise<PutSyncResult> => {
      if (!(await this.consumeNonce(c, ctx))) return { ok: false, reason: 'replay' };
      // FOR SHARE: a deletion or a new device list of the handle waits for this write.
      const cur = await c.query('SELECT * FROM identities WHERE handle = $1 FOR SHARE', [
        input.handle,
      ]);
      const stored = await c.query('SELECT version FROM sync_blobs WHERE handle = $1 FOR UPDATE', [
        input.handle,
      ]);
      const refused = planSync(
        input,
        cur.rows[0] ? identityFromRow(cur.rows[0]) : undefined,
        await this.readDeviceList(c, input.handle),
        stored.rows[0] ? num(stored.rows[0].version) : undefined,
      );
      if (refused) return refused;
      // Two first writes race on the insert: the loser's conflict leaves the row as the winner
      // wrote it, and is reported as stale.
      const written = await c.query(
        `INSERT INTO sync_blobs (handle, version, ciphertext, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (handle) DO UPDATE SET version = excluded.version,
           ciphertext = excluded.ciphertext, updated_at = excluded.updated_at
         WHERE sync_blobs.version = excluded.version - 1`,
        [input.handle, input.version, blob(input.ciphertext), ctx.now],
      );
      if (written.rowCount !== 1)
        throw new Rollback<PutSyncResult>({
          ok: false,
          reason: 'stale',
          storedVersion: input.version,
        });
      return { ok: true };
    });
  }

  async noteDeviceSeen(handle: string, deviceId: number, at: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO device_seen (handle, device_id, seen_at) VALUES ($1, $2, $3)
       ON CONFLICT (handle, device_id)
       DO UPDATE SET seen_at = GREATEST(device_seen.seen_at, excluded.seen_at)`,
      [handle, deviceId, at],
    );
  }

  async devicesSeen(handle: string): Promise<{ deviceId: number; at: number }[]> {
    const r = await this.pool.query(
      'SELECT device_id, seen_at FROM device_seen WHERE handle = $1 ORDER BY device_id',
      [handle],
    );
    return (r.rows as Row[]).map((row) => ({ deviceId: num(row.device_id), at: num(row.seen_at) }));
  }

  async getSyncBlob(handle: string): Promise<SyncBlob | undefined> {
    const r = await this.pool.query('SELECT * FROM sync_blobs WHERE handle = $1', [handle]);
    const row = r.rows[0] as Row | undefined;
    return (
      row && {
        version: num(row.version),
        ciphertext: u8(row.ciphertext),
        updatedAt: num(row.updated_at),
      }
    );
  }

  /**
   * Inside the caller's transaction: removes and returns a one-time KEM prekey (SKIP LOCKED, as
   * for X25519 ones), else returns the last-resort one.
   */
  private async takeKemPrekey(
    c: pg.PoolClient,
    handle: string,
  ): Promise<KemPrekeyRecord | undefined> {
    const r = await c.query(
      `DELETE FROM kem_one_time_prekeys WHERE handle = $1 AND id =
         (SELECT id FROM kem_one_time_prekeys WHERE handle = $1 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING id, public_key, signature`,
      [handle],
    );
    if (r.rows[0]) return kemPrekeyFromRow(r.rows[0] as Row, false);
    const last = await c.query(
      'SELECT id, public_key, signature FROM kem_last_resort_prekeys WHERE handle = $1',
      [handle],
    );
    return last.rows[0] ? kemPrekeyFromRow(last.rows[0] as Row, true) : undefined;
  }

  /**
   * Inside the caller's transaction (a rotation, a deletion): every prekey of the handle, its
   * device list (signed by the key that goes) and the listed devices' prekeys.
   */
  private async dropKeyMaterial(c: pg.PoolClient, handle: string): Promise<void> {
    await c.query('DELETE FROM one_time_prekeys WHERE handle = $1', [handle]);
    await c.query('DELETE FROM kem_one_time_prekeys WHERE handle = $1', [handle]);
    await c.query('DELETE FROM kem_last_resort_prekeys WHERE handle = $1', [handle]);
    await c.query('DELETE FROM device_lists WHERE handle = $1', [handle]);
    for (const table of DEVICE_TABLES)
      await c.query(`DELETE FROM ${table} WHERE handle = $1`, [handle]);
  }

  private async kemCounts(q: Queryable, handle: string): Promise<KemPrekeyCounts> {
    const r = await q.query(
      `SELECT (SELECT COUNT(*) FROM kem_one_time_prekeys WHERE handle = $1) AS n,
              (SELECT id FROM kem_last_resort_prekeys WHERE handle = $1) AS last_resort_id`,
      [handle],
    );
    const row = r.rows[0] as Row;
    return {
      oneTime: num(row.n),
      lastResortId: row.last_resort_id == null ? null : num(row.last_resort_id),
    };
  }

  async countKemPrekeys(handle: string): Promise<KemPrekeyCounts> {
    return this.kemCounts(this.pool, handle);
  }

  async countOneTimePrekeys(handle: string): Promise<number> {
    const r = await this.pool.query(
      'SELECT COUNT(*) AS n FROM one_time_prekeys WHERE handle = $1',
      [handle],
    );
    return num(r.rows[0].n);
  }

  /** `handle = $1` below migration 5, else also its label's entries; with the parameters. */
  private async byHandle(handle: string): Promise<{ where: string; params: unknown[] }> {
    return this.labelled
      ? { where: '(handle = $1 OR label = $2)', params: [handle, await this.labelOf(handle)] }
      : { where: '(handle = $1 OR $2::bytea IS NOT NULL)', params: [handle, null] };
  }

  async latestKeyEntry(handle: string): Promise<StoredLogEntry | undefined> {
    const { where, params } = await this.byHandle(handle);
    const redacted = this.labelled ? 'AND leaf_hash IS NULL' : '';
    const r = await this.pool.query(
      `SELECT * FROM log_entries WHERE ${where} AND action <> 'devices' ${redacted}
         ORDER BY sequence DESC LIMIT 1`,
      params,
    );
    return r.rows[0] ? keyEntryFromRow(r.rows[0]) : undefined;
  }

  async logEntriesForHandle(
    handle: string,
    afterSequence: number,
    limit: number,
  ): Promise<LoggedEntry[]> {
    // Served by the unique (handle, sequence) and (label, sequence) indexes.
    const { where, params } = await this.byHandle(handle);
    const r = await this.pool.query(
      `SELECT * FROM log_entries WHERE ${where} AND sequence > $3 ORDER BY sequence LIMIT $4`,
      [...params, afterSequence, limit],
    );
    return r.rows.map(logEntryFromRow);
  }

  async getLogEntries(start: number, count: number): Promise<LoggedEntry[]> {
    const r = await this.pool.query(
      'SELECT * FROM log_entries WHERE idx >= $1 ORDER BY idx LIMIT $2',
      [start, count],
    );
    return r.rows.map(logEntryFromRow);
  }

  private async readNodes(q: Queryable, refs: readonly NodeRef[]): Promise<Uint8Array[]> {
    if (refs.length === 0) return [];
    const r = await q.query(
      `SELECT n.level, n.idx, n.hash FROM log_nodes n
       JOIN unnest($1::smallint[], $2::bigint[]) AS want(level, idx) USING (level, idx)`,
      [refs.map((x) => x.level), refs.map((x) => x.index)],
    );
    const byKey = new Map(
      r.rows.map((row: Row) => [`${num(row.level)}:${num(row.idx)}`, u8(row.hash)]),
    );
    return refs.map((x) => {
      const h = byKey.get(`${x.level}:${x.index}`);
      if (!h) throw new StoreIntegrityError('missing Merkle node');
      return h;
    });
  }

  async getLogNodes(refs: readonly NodeRef[]): Promise<Uint8Array[]> {
    return this.readNodes(this.pool, refs);
  }

  async stats(): Promise<StoreStats> {
    const r = await this.pool.query(
      `SELECT (SELECT COUNT(*) FROM identities) AS identities,
              (SELECT COUNT(*) FROM one_time_prekeys) AS prekeys,
              (SELECT COUNT(*) FROM kem_one_time_prekeys) AS kem_prekeys,
              (SELECT tree_size FROM log_state WHERE id = 1) AS log_size`,
    );
    const row = r.rows[0] as Row;
    return {
      identities: num(row.identities),
      oneTimePrekeys: num(row.prekeys),
      kemOneTimePrekeys: num(row.kem_prekeys),
      logSize: num(row.log_size),
    };
  }

  /** Drops the store's schema (tests only; refuses the default schema). */
  async dropSchema(): Promise<void> {
    if (!this.options.schema) throw new Error('refusing to drop the default schema');
    await this.pool.query(`DROP SCHEMA IF EXISTS ${this.options.schema} CASCADE`);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

export function openPostgresStore(options: PostgresStoreOptions): PostgresStore {
  return new PostgresStore(options);
}
