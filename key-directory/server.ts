// Starts the key directory (`npm run directory`): SQLite at VEIL_DB (default
// ./data/directory.sqlite), or PostgreSQL when DATABASE_URL is set; listens on 127.0.0.1:PORT
// (default 8787). Only wiring lives here; the app is built in app.ts.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createServer } from 'node:http';
import { DEFAULT_ORIGIN, createDirectory } from './app';
import { createNodeListener } from './node-listener';
import { createSigner, generateDirectoryKey } from './signer';
import type { DirectoryStore } from './store';
import { openPostgresStore } from './store-postgres';
import { openSqliteStore } from './store-sqlite';

async function main(): Promise<void> {
  const env = process.env;
  const port = Number(env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error('PORT must be a port number');
  let store: DirectoryStore;
  let where: string;
  if (env.DATABASE_URL) {
    store = openPostgresStore({ connectionString: env.DATABASE_URL });
    where = 'PostgreSQL';
  } else {
    const file = resolve(env.VEIL_DB ?? './data/directory.sqlite');
    mkdirSync(dirname(file), { recursive: true });
    store = openSqliteStore({
      file,
      synchronous: env.VEIL_SQLITE_SYNC === 'normal' ? 'normal' : 'full',
    });
    where = `SQLite ${file}`;
  }
  await store.migrate();
  const origin = env.VEIL_LOG_ORIGIN ?? DEFAULT_ORIGIN;
  const signer = createSigner(
    await store.loadOrCreateDirectoryKey(generateDirectoryKey, Date.now()),
    origin,
  );
  await store.ensureHead(Date.now(), signer.signHead);
  const directory = createDirectory({
    store,
    clock: Date.now,
    signer,
    // For load tests only: VEIL_RATE_LIMITS=off.
    limits: env.VEIL_RATE_LIMITS === 'off' ? { rates: null } : undefined,
  });
  const server = createServer(createNodeListener(directory));
  server.listen(port, '127.0.0.1', () => {
    const address = server.address() as { port: number };
    console.log(
      `Veil key directory listening on http://127.0.0.1:${address.port} (${where}, log origin ${origin})`,
    );
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close(() => {
      void store.close().finally(() => process.exit(0));
    });
    // Idle keep-alive connections would hold close() open.
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
  const hint =
    (e as { code?: unknown }).code === 'ERR_DLOPEN_FAILED'
      ? ` (better-sqlite3 is built for another Node.js ABI than ${process.version}: start it with the Node.js it was installed with, e.g. /usr/bin/node --import tsx key-directory/server.ts)`
      : '';
  console.error(`Veil key directory failed to start: ${message}${hint}`);
  process.exit(1);
});
