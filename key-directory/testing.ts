// Test support shared by the key-directory suites: throwaway SQLite and PostgreSQL stores,
// a fixed clock, and a helper that sends a signed request to an in-process app.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { buildApp, type AppOptions } from './app';
import type { SignedRequest } from './client-signing';
import { createSigner, generateDirectoryKey, type DirectorySigner } from './signer';
import type { DirectoryStore, WriteContext } from './store';
import { PostgresStore } from './store-postgres';
import { SqliteStore } from './store-sqlite';

export const TEST_ORIGIN = 'veil.test/directory';

export interface OpenedStore {
  store: DirectoryStore;
  cleanup: () => Promise<void>;
}

export interface StoreFactory {
  name: 'sqlite' | 'postgres';
  /** Why the factory cannot run here, or undefined when it can. */
  skip?: string;
  open: () => Promise<OpenedStore>;
}

export async function openTestSqlite(): Promise<
  OpenedStore & { store: SqliteStore; file: string }
> {
  const dir = mkdtempSync(join(tmpdir(), 'veil-dir-'));
  const file = join(dir, 'directory.sqlite');
  let store: SqliteStore;
  try {
    store = new SqliteStore({ file, synchronous: 'normal' });
    await store.migrate();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    store,
    file,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * PostgreSQL comes from DATABASE_URL_TEST (CI starts a cluster and sets it). Without it the
 * PostgreSQL half of a suite is skipped with a message on a developer machine, and fails in CI.
 */
export function postgresUrl(): { url?: string; skip?: string } {
  const url = process.env.DATABASE_URL_TEST;
  if (url) return { url };
  if (process.env.CI)
    throw new Error('DATABASE_URL_TEST is not set, and CI needs the PostgreSQL tests to run');
  return {
    skip: 'DATABASE_URL_TEST is not set: PostgreSQL store tests skipped (set it to run them)',
  };
}

export async function openTestPostgres(): Promise<OpenedStore & { store: PostgresStore }> {
  const { url } = postgresUrl();
  if (!url) throw new Error('DATABASE_URL_TEST is not set');
  const schema = `veil_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const store = new PostgresStore({ connectionString: url, schema, maxConnections: 12 });
  await store.migrate();
  return {
    store,
    cleanup: async () => {
      await store.dropSchema().catch(() => {});
      await store.close();
    },
  };
}

export function storeFactories(): StoreFactory[] {
  const pg = postgresUrl();
  if (pg.skip) console.warn(pg.skip);
  return [
    { name: 'sqlite', open: openTestSqlite },
    { name: 'postgres', skip: pg.skip, open: openTestPostgres },
  ];
}

/** A clock tests can move. Milliseconds. */
export class TestClock {
  constructor(public now = Date.UTC(2026, 0, 1)) {}
  readonly fn = () => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

export function testSigner(): DirectorySigner {
  return createSigner(generateDirectoryKey(), TEST_ORIGIN);
}

let nonceCounter = 0;
export function writeContext(signer: DirectorySigner, now: number, nonce?: string): WriteContext {
  return {
    now,
    nonce: nonce ?? `test-nonce-${process.pid}-${++nonceCounter}-${randomBytes(4).toString('hex')}`,
    nonceExpiresAt: now + 301_000,
    signHead: signer.signHead,
  };
}

export interface TestApp {
  app: Hono;
  signer: DirectorySigner;
  clock: TestClock;
  logs: string[];
  send: (req: SignedRequest) => Promise<Response>;
}

/** An app on `store` with a fixed clock, a known signer, and rate limits from `options`. */
export function testApp(
  store: DirectoryStore,
  options: Partial<AppOptions> = {},
  clock = new TestClock(),
): TestApp {
  const signer = options.signer ?? testSigner();
  const logs: string[] = [];
  const app = buildApp({
    store,
    clock: clock.fn,
    signer,
    log: (line) => logs.push(line),
    clientIp: (c) => c.req.header('x-test-ip') ?? 'test-client',
    ...options,
  });
  const send = async (req: SignedRequest) =>
    app.request(req.path, {
      method: req.method,
      headers: req.headers,
      body: req.method !== 'PUT' && req.body === '' ? undefined : req.body,
    });
  return { app, signer, clock, logs, send };
}

/** Seconds on the test clock, for request timestamps. */
export const secondsOf = (clock: TestClock) => Math.floor(clock.now / 1000);
