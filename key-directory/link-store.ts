// Storage of link requests (table `link_requests`, migration 6; docs/devices.md, "Linking"):
// what the directory relays between a linked browser (A) and a new one (B). Kept apart from the
// directory store's identity and log methods: nothing here is logged or signed, and every row is
// short-lived. Every call first deletes the rows created at or before `cutoff` (ms), so an
// expired entry is never served. SQLite and PostgreSQL implementations share this file and one
// test suite (links.test.ts).
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { type Row, blob, u8 } from './store-rows';

export interface LinkRequestInput {
  /** Ed25519 device key of the new browser. */
  deviceKey: Uint8Array;
  /** Its one-time X25519 reply key. */
  replyKey: Uint8Array;
  /** HMAC-SHA256 by the new browser (the directory cannot check it). */
  mac: Uint8Array;
}

export interface LinkRequestRecord extends LinkRequestInput {
  answered: boolean;
  /** Milliseconds. */
  createdAt: number;
}

export interface LinkStore {
  /** Stores a request under `id` once; 'exists' if the id holds one (answered or not). */
  putRequest(
    id: string,
    request: LinkRequestInput,
    now: number,
    cutoff: number,
  ): Promise<'stored' | 'exists'>;
  getRequest(id: string, cutoff: number): Promise<LinkRequestRecord | undefined>;
  /** Adds the answer once: 'not-found' without a request, 'answered' if it has one. */
  putAnswer(
    id: string,
    sealed: Uint8Array,
    cutoff: number,
  ): Promise<'stored' | 'answered' | 'not-found'>;
  /** The answer, deleting the whole entry in the same step; undefined if none (yet). */
  takeAnswer(id: string, cutoff: number): Promise<Uint8Array | undefined>;
  /** Entries stored now (expired ones first purged): for tests and metrics. */
  count(cutoff: number): Promise<number>;
}

function recordFromRow(r: Row): LinkRequestRecord {
  return {
    deviceKey: u8(r.device_key),
    replyKey: u8(r.reply_key),
    mac: u8(r.mac),
    answered: r.answered === 1 || r.answered === true,
    createdAt: Number(r.created_at),
  };
}

export class SqliteLinkStore implements LinkStore {
  // Statements are prepared per call: migrations may drop and create the table meanwhile.
  constructor(private readonly db: Database.Database) {}

  private purge(cutoff: number): void {
    this.db.prepare('DELETE FROM link_requests WHERE created_at <= ?').run(cutoff);
  }

  async putRequest(
    id: string,
    request: LinkRequestInput,
    now: number,
    cutoff: number,
  ): Promise<'stored' | 'exists'> {
    return this.db
      .transaction(() => {
        this.purge(cutoff);
        const r = this.db
          .prepare(
            `INSERT INTO link_requests (id, device_key, reply_key, mac, answer, created_at)
             VALUES (?, ?, ?, ?, NULL, ?) ON CONFLICT (id) DO NOTHING`,
          )
          .run(id, blob(request.deviceKey), blob(request.replyKey), blob(request.mac), now);
        return r.changes === 1 ? ('stored' as const) : ('exists' as const);
      })
      .immediate();
  }

  async getRequest(id: string, cutoff: number): Promise<LinkRequestRecord | undefined> {
    this.purge(cutoff);
    const r = this.db
      .prepare(
        `SELECT device_key, reply_key, mac, answer IS NOT NULL AS answered, created_at
         FROM link_requests WHERE id = ?`,
      )
      .get(id) as Row | undefined;
    return r && recordFromRow(r);
  }

  async putAnswer(
    id: string,
    sealed: Uint8Array,
    cutoff: number,
  ): Promise<'stored' | 'answered' | 'not-found'> {
    return this.db
      .transaction(() => {
        this.purge(cutoff);
        const r = this.db
          .prepare('UPDATE link_requests SET answer = ? WHERE id = ? AND answer IS NULL')
          .run(blob(sealed), id);
        if (r.changes === 1) return 'stored' as const;
        const exists = this.db.prepare('SELECT 1 FROM link_requests WHERE id = ?').get(id);
        return exists ? ('answered' as const) : ('not-found' as const);
      })
      .immediate();
  }

  async takeAnswer(id: string, cutoff: number): Promise<Uint8Array | undefined> {
    this.purge(cutoff);
    const r = this.db
      .prepare('DELETE FROM link_requests WHERE id = ? AND answer IS NOT NULL RETURNING answer')
      .get(id) as Row | undefined;
    return r && u8(r.answer);
  }

  async count(cutoff: number): Promise<number> {
    this.purge(cutoff);
    return Number((this.db.prepare('SELECT COUNT(*) AS n FROM link_requests').get() as Row).n);
  }
}

export class PostgresLinkStore implements LinkStore {
  constructor(private readonly pool: pg.Pool) {}

  private async purge(cutoff: number): Promise<void> {
    await this.pool.query('DELETE FROM link_requests WHERE created_at <= $1', [cutoff]);
  }

  async putRequest(
    id: string,
    request: LinkRequestInput,
    now: number,
    cutoff: number,
  ): Promise<'stored' | 'exists'> {
    await this.purge(cutoff);
    const r = await this.pool.query(
      `INSERT INTO link_requests (id, device_key, reply_key, mac, answer, created_at)
       VALUES ($1, $2, $3, $4, NULL, $5) ON CONFLICT (id) DO NOTHING`,
      [id, blob(request.deviceKey), blob(request.replyKey), blob(request.mac), now],
    );
    return r.rowCount === 1 ? 'stored' : 'exists';
  }

  async getRequest(id: string, cutoff: number): Promise<LinkRequestRecord | undefined> {
    await this.purge(cutoff);
    const r = await this.pool.query(
      `SELECT device_key, reply_key, mac, answer IS NOT NULL AS answered, created_at
       FROM link_requests WHERE id = $1`,
      [id],
    );
    return r.rows[0] && recordFromRow(r.rows[0] as Row);
  }

  async putAnswer(
    id: string,
    sealed: Uint8Array,
    cutoff: number,
  ): Promise<'stored' | 'answered' | 'not-found'> {
    await this.purge(cutoff);
    // One statement: the update, or why not (a row without answer cannot appear in between,
    // since ids are inserted once and never reset).
    const r = await this.pool.query(
      `WITH updated AS (
         UPDATE link_requests SET answer = $1 WHERE id = $2 AND answer IS NULL RETURNING 1
       )
       SELECT (SELECT COUNT(*) FROM updated) AS updated,
              (SELECT COUNT(*) FROM link_requests WHERE id = $2) AS present`,
      [blob(sealed), id],
    );
    const row = r.rows[0] as Row;
    if (Number(row.updated) === 1) return 'stored';
    return Number(row.present) === 1 ? 'answered' : 'not-found';
  }

  async takeAnswer(id: string, cutoff: number): Promise<Uint8Array | undefined> {
    await this.purge(cutoff);
    const r = await this.pool.query(
      'DELETE FROM link_requests WHERE id = $1 AND answer IS NOT NULL RETURNING answer',
      [id],
    );
    return r.rows[0] && u8((r.rows[0] as Row).answer);
  }

  async count(cutoff: number): Promise<number> {
    await this.purge(cutoff);
    const r = await this.pool.query('SELECT COUNT(*) AS n FROM link_requests');
    return Number((r.rows[0] as Row).n);
  }
}
