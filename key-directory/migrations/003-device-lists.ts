// Migration 3: device lists (docs/devices.md). `device_lists` keeps each handle's newest list,
// signed by its account key, with the log entry that recorded it; the log learns action
// 'devices' (leaf code 4, its 32-byte field the list's digest). SQLite cannot alter a CHECK
// constraint, so `log_entries` is rebuilt (one copy of the table, inside the migration's
// transaction); PostgreSQL swaps the constraint. `down` restores the old constraint and so fails,
// changing nothing, once the log holds a 'devices' entry: an append-only log cannot drop one.
import type { Migration } from './index';

const sqliteLogEntries = (actions: string) => `
CREATE TABLE log_entries_rebuilt (
  idx INTEGER PRIMARY KEY,
  handle TEXT NOT NULL,
  identity_key BLOB NOT NULL,
  action TEXT NOT NULL CHECK (action IN (${actions})),
  sequence INTEGER NOT NULL,
  timestamp INTEGER NOT NULL
) STRICT;
INSERT INTO log_entries_rebuilt (idx, handle, identity_key, action, sequence, timestamp)
  SELECT idx, handle, identity_key, action, sequence, timestamp FROM log_entries ORDER BY idx;
DROP TABLE log_entries;
ALTER TABLE log_entries_rebuilt RENAME TO log_entries;
CREATE UNIQUE INDEX log_entries_handle_sequence ON log_entries (handle, sequence);
`;

const KEY_ACTIONS = `'publish', 'rotate', 'delete'`;
const ALL_ACTIONS = `'publish', 'rotate', 'delete', 'devices'`;

const sqliteUp = `
${sqliteLogEntries(ALL_ACTIONS)}
CREATE TABLE device_lists (
  handle TEXT PRIMARY KEY REFERENCES identities (handle) ON DELETE CASCADE,
  version INTEGER NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
  devices TEXT NOT NULL,
  signature BLOB NOT NULL,
  log_index INTEGER NOT NULL,
  sequence INTEGER NOT NULL,
  log_timestamp INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
`;

const sqliteDown = `
DROP TABLE device_lists;
${sqliteLogEntries(KEY_ACTIONS)}
`;

const postgresUp = `
ALTER TABLE log_entries DROP CONSTRAINT log_entries_action_check;
ALTER TABLE log_entries ADD CONSTRAINT log_entries_action_check CHECK (action IN (${ALL_ACTIONS}));
CREATE TABLE device_lists (
  handle TEXT PRIMARY KEY REFERENCES identities (handle) ON DELETE CASCADE,
  version BIGINT NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
  devices TEXT NOT NULL,
  signature BYTEA NOT NULL,
  log_index BIGINT NOT NULL,
  sequence BIGINT NOT NULL,
  log_timestamp BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
`;

const postgresDown = `
DROP TABLE device_lists;
ALTER TABLE log_entries DROP CONSTRAINT log_entries_action_check;
ALTER TABLE log_entries ADD CONSTRAINT log_entries_action_check CHECK (action IN (${KEY_ACTIONS}));
`;

export const migration003: Migration = {
  version: 3,
  name: 'device-lists',
  sqlite: { up: sqliteUp, down: sqliteDown },
  postgres: { up: postgresUp, down: postgresDown },
};
