// PostgreSQL implementation of the directory store (for scale; several directory processes may
// share one database). Writers serialize on the single `log_state` row (SELECT … FOR UPDATE), so
// log appends are strictly ordered; bundle fetches take one-time prekeys (X25519 and KEM) with
// FOR UPDATE SKIP LOCKED, so concurrent fetches never receive the same one.
import pg from 'pg';
import { encodeLogEntry, leafHash } from '../extension/protocol/transparency';
import { type LinkStore, PostgresLinkStore } from './link-store';
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
  }

  private async currentVersion(q: Queryable): Promise<number> {
    const r = await q.query('SELECT MAX(version) AS v FROM schema_migrations');
    return num(r.rows[0]?.v ?? 0);
  }

  async schemaVersion(): Promise<number> {
    return this.currentVersion(this.pool);
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
    const r = await c.query('SELECT MAX(sequence) AS s FROM log_entries WHERE handle = $1', [
      handle,
    ]);
    return num(r.rows[0]?.s ?? 0);
  }

  private async appendLog(
    c: pg.PoolClient,
    size: number,
    entry: Omit<StoredLogEntry, 'index'>,
    signHead: HeadSigner,
  ): Promise<number> {
    const frontier = MerkleFrontier.fromCover(size, await this.readNodes(c, rangeCover(0, size)));
    const created = frontier.append(leafHash(encodeLogEntry(entry)));
    await c.query(
      'INSERT INTO log_entries (idx, handle, identity_key, action, sequence, timestamp) VALUES ($1, $2, $3, $4, $5, $6)',
      [size, entry.handle, blob(entry.identityKey), entry.action, entry.sequence, entry.timestamp],
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
      const logIndex = plan.loggedAt ?? (await this.appendLog(c, size, plan.entry, ctx.signHead));
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
    return this.tx(async (c): Promise<DeleteResult> => {
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
        {
          handle: input.handle,
          identityKey: current.identityKey,
          action: 'delete',
          sequence,
          timestamp: seconds(ctx.now),
        },
        ctx.signHead,
      );
      await this.dropKeyMaterial(c, input.handle);
      await c.query('DELETE FROM identities WHERE handle = $1', [input.handle]);
      return { ok: true, logIndex, sequence };
    });
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
      const logIndex = await this.appendLog(c, size, entry, ctx.signHead);
      await c.query(UPSERT_DEVICE_LIST, deviceListRowValues(input.list, entry, logIndex, ctx.now));
      return { ok: true, logIndex, sequence: entry.sequence };
    });
  }

  async getDeviceList(handle: string): Promise<DeviceListRecord | undefined> {
    const r = await this.pool.query('SELECT * FROM device_lists WHERE handle = $1', [handle]);
    return r.rows[0] ? deviceListFromRow(r.rows[0] as Row) : undefined;
  }

  async takeBundle(handle: string): Promise<Bundle | undefined> {
    return this.tx(async (c) => {
      // FOR SHARE: a concurrent rotation (FOR UPDATE) waits, so the bundle never mixes keys.
      const cur = await c.query('SELECT * FROM identities WHERE handle = $1 FOR SHARE', [handle]);
      if (!cur.rows[0]) return undefined;
      const identity = identityFromRow(cur.rows[0]);
      const r = await c.query(
        `DELETE FROM one_time_prekeys WHERE handle = $1 AND id =
           (SELECT id FROM one_time_prekeys WHERE handle = $1 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id, public_key`,
        [handle],
      );
      const row = r.rows[0] as Row | undefined;
      const kemPrekey = await this.takeKemPrekey(c, handle);
      return {
        identity,
        ...(row ? { oneTimePrekey: { id: num(row.id), publicKey: u8(row.public_key) } } : {}),
        ...(kemPrekey ? { kemPrekey } : {}),
      };
    });
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
   * Inside the caller's transaction (a rotation, a deletion): every prekey of the handle and its
   * device list, all signed by the key that goes.
   */
  private async dropKeyMaterial(c: pg.PoolClient, handle: string): Promise<void> {
    await c.query('DELETE FROM one_time_prekeys WHERE handle = $1', [handle]);
    await c.query('DELETE FROM kem_one_time_prekeys WHERE handle = $1', [handle]);
    await c.query('DELETE FROM kem_last_resort_prekeys WHERE handle = $1', [handle]);
    await c.query('DELETE FROM device_lists WHERE handle = $1', [handle]);
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

  async latestKeyEntry(handle: string): Promise<StoredLogEntry | undefined> {
    const r = await this.pool.query(
      "SELECT * FROM log_entries WHERE handle = $1 AND action <> 'devices' ORDER BY sequence DESC LIMIT 1",
      [handle],
    );
    return r.rows[0] ? logEntryFromRow(r.rows[0]) : undefined;
  }

  async logEntriesForHandle(
    handle: string,
    afterSequence: number,
    limit: number,
  ): Promise<StoredLogEntry[]> {
    // Served by the unique (handle, sequence) index.
    const r = await this.pool.query(
      'SELECT * FROM log_entries WHERE handle = $1 AND sequence > $2 ORDER BY sequence LIMIT $3',
      [handle, afterSequence, limit],
    );
    return r.rows.map(logEntryFromRow);
  }

  async getLogEntries(start: number, count: number): Promise<StoredLogEntry[]> {
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
