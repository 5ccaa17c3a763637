// Migration 5: erasable handles (issue 14). New log entries carry the handle's VRF label
// (extension/protocol/vrf.ts) instead of the handle: `label` is set and `handle` NULL. A deleted
// handle's pre-migration entries are redacted: handle and key NULL, the label of the handle set
// (so its history keeps its sequence), and `leaf_hash` keeps the leaf the tree was built from.
// `vrf_key` holds the directory's VRF secret key, generated on first start like its log key.
// SQLite cannot relax NOT NULL in place, so `log_entries` is rebuilt (as migration 3 does);
// PostgreSQL alters it. `down` restores NOT NULL and so fails, changing nothing, once the log
// holds a labelled or redacted entry: an append-only log cannot go back to handles.
import type { Migration } from './index';

const ACTIONS = `'publish', 'rotate', 'delete', 'devices'`;

// Exactly one form per row: v1 (handle, key), v2 (label, key), redacted v1 (label, leaf hash).
const FORMS = `CHECK (
    (handle IS NOT NULL AND label IS NULL AND identity_key IS NOT NULL AND leaf_hash IS NULL)
    OR (handle IS NULL AND label IS NOT NULL AND identity_key IS NOT NULL AND leaf_hash IS NULL)
    OR (handle IS NULL AND label IS NOT NULL AND identity_key IS NULL AND leaf_hash IS NOT NULL))`;

const sqliteUp = `
CREATE TABLE log_entries_rebuilt (
  idx INTEGER PRIMARY KEY,
  handle TEXT,
  label BLOB,
  identity_key BLOB,
  action TEXT NOT NULL CHECK (action IN (${ACTIONS})),
  sequence INTEGER NOT NULL,
  timestamp INTEGER NOT NULL,
  leaf_hash BLOB,
  ${FORMS}
) STRICT;
INSERT INTO log_entries_rebuilt (idx, handle, identity_key, action, sequence, timestamp)
  SELECT idx, handle, identity_key, action, sequence, timestamp FROM log_entries ORDER BY idx;
DROP TABLE log_entries;
ALTER TABLE log_entries_rebuilt RENAME TO log_entries;
CREATE UNIQUE INDEX log_entries_handle_sequence ON log_entries (handle, sequence);
CREATE UNIQUE INDEX log_entries_label_sequence ON log_entries (label, sequence);
CREATE TABLE vrf_key (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  secret_key BLOB NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
`;

const sqliteDown = `
DROP TABLE vrf_key;
CREATE TABLE log_entries_rebuilt (
  idx INTEGER PRIMARY KEY,
  handle TEXT NOT NULL,
  identity_key BLOB NOT NULL,
  action TEXT NOT NULL CHECK (action IN (${ACTIONS})),
  sequence INTEGER NOT NULL,
  timestamp INTEGER NOT NULL
) STRICT;
INSERT INTO log_entries_rebuilt (idx, handle, identity_key, action, sequence, timestamp)
  SELECT idx, handle, identity_key, action, sequence, timestamp FROM log_entries ORDER BY idx;
DROP TABLE log_entries;
ALTER TABLE log_entries_rebuilt RENAME TO log_entries;
CREATE UNIQUE INDEX log_entries_handle_sequence ON log_entries (handle, sequence);
`;

const postgresUp = `
ALTER TABLE log_entries
  ALTER COLUMN handle DROP NOT NULL,
  ALTER COLUMN identity_key DROP NOT NULL,
  ADD COLUMN label BYTEA,
  ADD COLUMN leaf_hash BYTEA,
  ADD CONSTRAINT log_entries_form_check ${FORMS};
CREATE UNIQUE INDEX log_entries_label_sequence ON log_entries (label, sequence);
CREATE TABLE vrf_key (
  id SMALLINT PRIMARY KEY CHECK (id = 1),
  secret_key BYTEA NOT NULL,
  created_at BIGINT NOT NULL
);
`;

const postgresDown = `
DROP TABLE vrf_key;
DROP INDEX log_entries_label_sequence;
ALTER TABLE log_entries
  DROP CONSTRAINT log_entries_form_check,
  ALTER COLUMN handle SET NOT NULL,
  ALTER COLUMN identity_key SET NOT NULL,
  DROP COLUMN label,
  DROP COLUMN leaf_hash;
`;

export const migration005: Migration = {
  version: 5,
  name: 'handle-labels',
  sqlite: { up: sqliteUp, down: sqliteDown },
  postgres: { up: postgresUp, down: postgresDown },
};
