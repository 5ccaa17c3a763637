// Issue 14: deleting an account erases its handle. After DELETE, no table of either store, and
// no file the SQLite store writes, holds the handle (as UTF-8, hex or base64url), while the log
// still verifies: consistency from a head before the delete, inclusion of other handles' entries.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { base64UrlDecode, base64UrlEncode } from '../extension/protocol/directory-request';
import { utf8ToBytes } from '../extension/protocol/bytes';
import {
  type DirectoryTrust,
  verifyConsistency,
  verifyInclusion,
  leafHash,
  encodeLogEntry,
} from '../extension/protocol/transparency';
import { deviceListJson, makeIdentity, publishBody, signedRequest } from './client-signing';
import type { PostgresStore } from './store-postgres';
import type { SqliteStore } from './store-sqlite';
import {
  type OpenedStore,
  type TestApp,
  openTestPostgres,
  openTestSqlite,
  postgresUrl,
  secondsOf,
  testApp,
} from './testing';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const json = async (res: Response) => (await res.json()) as Json;

// Long and odd on purpose: no key, hash or base64 text contains it by chance.
const HANDLE = 'erasable.handle-qx7';

/** Every way the handle could be written down. */
function encodings(handle: string): string[] {
  const bytes = utf8ToBytes(handle);
  return [
    handle,
    Buffer.from(bytes).toString('hex'),
    base64UrlEncode(bytes),
    Buffer.from(bytes).toString('base64').replace(/=+$/, ''),
  ];
}

function findHandle(haystack: string, handle: string): string[] {
  const lower = haystack.toLowerCase();
  return encodings(handle).filter((e) => lower.includes(e.toLowerCase()));
}

/** All rows of all tables, as text (bytes as hex and as UTF-8, so both encodings are seen). */
function cellText(v: unknown): string {
  if (v instanceof Uint8Array)
    return `${Buffer.from(v).toString('hex')} ${Buffer.from(v).toString('latin1')}`;
  if (v === null || v === undefined) return '';
  return String(v);
}

async function dumpSqlite(store: SqliteStore): Promise<string> {
  const db = store.database;
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as {
    name: string;
  }[];
  expect(tables.length).toBeGreaterThan(5);
  let out = '';
  for (const { name } of tables)
    for (const row of db.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[])
      out += `${name}: ${Object.values(row).map(cellText).join(' | ')}\n`;
  return out;
}

async function dumpPostgres(store: PostgresStore): Promise<string> {
  const pool = store.pool;
  const tables = await pool.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`,
  );
  expect(tables.rows.length).toBeGreaterThan(5);
  let out = '';
  for (const { table_name } of tables.rows) {
    const rows = await pool.query(`SELECT * FROM "${table_name}"`);
    for (const row of rows.rows as Record<string, unknown>[])
      out += `${table_name}: ${Object.values(row).map(cellText).join(' | ')}\n`;
  }
  return out;
}

/** The SQLite file and its companions (-wal, -shm) as raw bytes. */
function sqliteFiles(file: string): string {
  const dir = dirname(file);
  return readdirSync(dir)
    .map((f) => Buffer.from(readFileSync(join(dir, f))).toString('latin1'))
    .join('\n');
}

async function trustOf(t: TestApp): Promise<DirectoryTrust> {
  const head = await json(await t.app.request('/v1/log/head'));
  return { origin: head.origin, publicKey: base64UrlDecode(head.publicKey) };
}

/** Publishes the handle (prekeys, KEM prekeys, a device list), a neighbour, then deletes it. */
async function liveAndDelete(t: TestApp) {
  const victim = makeIdentity(HANDLE);
  const bob = makeIdentity('bob');
  const send = (method: 'PUT' | 'DELETE', id: typeof victim, body: string, under = '') =>
    t.send(signedRequest(method, id.handle, body, id, { timestamp: secondsOf(t.clock), under }));
  expect((await send('PUT', bob, JSON.stringify(publishBody(bob, 2)))).status).toBe(201);
  expect(
    (
      await send(
        'PUT',
        victim,
        JSON.stringify(publishBody(victim, 3, 1, 1, { kem: { oneTime: 2, lastResortId: 9 } })),
      )
    ).status,
  ).toBe(201);
  t.clock.advance(1000);
  expect(
    (await send('PUT', victim, JSON.stringify(deviceListJson(victim, 1)), '/devices')).status,
  ).toBe(200);
  // Lookups, bundles, history and inclusion by handle fill whatever caches the directory has.
  expect((await t.app.request(`/v1/identities/${HANDLE}`)).status).toBe(200);
  expect((await t.app.request(`/v1/identities/${HANDLE}/bundle`)).status).toBe(200);
  expect((await t.app.request(`/v1/identities/${HANDLE}/history`)).status).toBe(200);
  expect((await t.app.request(`/v1/log/inclusion?handle=${HANDLE}`)).status).toBe(200);
  const before = await json(await t.app.request('/v1/log/head'));
  t.clock.advance(1000);
  expect((await send('PUT', bob, JSON.stringify(publishBody(bob, 1)))).status).toBe(200);
  expect((await send('DELETE', victim, '')).status).toBe(200);
  return { before, bob };
}

/** The log after the delete: consistent with the head before it; bob's entries still proven. */
async function logStillVerifies(t: TestApp, before: Json) {
  const trust = await trustOf(t);
  const head = await json(await t.app.request('/v1/log/head'));
  const proof = await json(
    await t.app.request(`/v1/log/consistency?from=${before.treeSize}&to=${head.treeSize}`),
  );
  verifyConsistency(
    before.treeSize,
    head.treeSize,
    base64UrlDecode(before.rootHash),
    base64UrlDecode(head.rootHash),
    proof.proof.map(base64UrlDecode),
  );
  expect(trust.origin).toBe(head.origin);
  const entries = (await json(await t.app.request(`/v1/log/entries?start=0&count=100`))).entries;
  expect(entries).toHaveLength(head.treeSize);
  // Entry 0 is bob's: another handle's entry is still proven against the head after the delete.
  const inclusion = await json(await t.app.request(`/v1/log/inclusion?index=0`));
  const served = entries[0];
  const leaf = served.redacted ? base64UrlDecode(served.leafHash) : leafHashOfServed(served);
  verifyInclusion(
    leaf,
    0,
    inclusion.treeSize,
    inclusion.inclusionProof.map(base64UrlDecode),
    base64UrlDecode(inclusion.head.rootHash),
  );
  return JSON.stringify(entries);
}

function leafHashOfServed(e: Json): Uint8Array {
  return leafHash(
    encodeLogEntry({
      ...(e.label ? { label: base64UrlDecode(e.label) } : { handle: e.handle }),
      identityKey: base64UrlDecode(e.identityKey),
      action: e.action,
      sequence: e.sequence,
      timestamp: e.timestamp,
    } as Parameters<typeof encodeLogEntry>[0]),
  );
}

describe('DELETE erases the handle', () => {
  let opened: OpenedStore | undefined;
  afterEach(async () => {
    await opened?.cleanup();
    opened = undefined;
  });

  it('SQLite: no table, file or log answer holds the handle after DELETE', async () => {
    const sqlite = await openTestSqlite();
    opened = sqlite;
    const t = testApp(sqlite.store);
    const { before } = await liveAndDelete(t);
    const served = await logStillVerifies(t, before);
    expect(findHandle(served, HANDLE)).toEqual([]);
    expect(findHandle(await dumpSqlite(sqlite.store), HANDLE)).toEqual([]);
    expect(findHandle(sqliteFiles(sqlite.file), HANDLE)).toEqual([]);
  });

  it.skipIf(postgresUrl().skip !== undefined)(
    'PostgreSQL: no table holds the handle after DELETE',
    async () => {
      const pg = await openTestPostgres();
      opened = pg;
      const t = testApp(pg.store);
      const { before } = await liveAndDelete(t);
      const served = await logStillVerifies(t, before);
      expect(findHandle(served, HANDLE)).toEqual([]);
      expect(findHandle(await dumpPostgres(pg.store), HANDLE)).toEqual([]);
    },
  );
});
