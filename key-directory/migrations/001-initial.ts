// Migration 1: identities, prekeys, the transparency log (entries, subtree hashes, signed heads),
// request nonces and the directory's own signing key. `up` creates, `down` removes.
import type { Migration } from './index';

const sqliteUp = `
CREATE TABLE identities (
  handle TEXT PRIMARY KEY,
  identity_key BLOB NOT NULL,
  spk_id INTEGER NOT NULL,
  spk_public_key BLOB NOT NULL,
  spk_signature BLOB NOT NULL,
  fingerprint TEXT NOT NULL,
  safety_number_half TEXT NOT NULL,
  log_index INTEGER NOT NULL,
  log_action TEXT NOT NULL CHECK (log_action IN ('publish', 'rotate')),
  sequence INTEGER NOT NULL,
  log_timestamp INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE TABLE one_time_prekeys (
  handle TEXT NOT NULL REFERENCES identities (handle) ON DELETE CASCADE,
  id INTEGER NOT NULL,
  public_key BLOB NOT NULL,
  PRIMARY KEY (handle, id)
) STRICT, WITHOUT ROWID;
CREATE TABLE log_entries (
  idx INTEGER PRIMARY KEY,
  handle TEXT NOT NULL,
  identity_key BLOB NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('publish', 'rotate', 'delete')),
  sequence INTEGER NOT NULL,
  timestamp INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX log_entries_handle_sequence ON log_entries (handle, sequence);
CREATE TABLE log_nodes (
  level INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;
CREATE TABLE log_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  tree_size INTEGER NOT NULL
) STRICT;
INSERT INTO log_state (id, tree_size) VALUES (1, 0);
CREATE TABLE tree_heads (
  tree_size INTEGER PRIMARY KEY,
  root_hash BLOB NOT NULL,
  timestamp INTEGER NOT NULL,
  signature BLOB NOT NULL
) STRICT;
CREATE TABLE request_nonces (
  nonce TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX request_nonces_expiry ON request_nonces (expires_at);
CREATE TABLE directory_key (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  secret_key BLOB NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
`;

const postgresUp = `
CREATE TABLE identities (
  handle TEXT PRIMARY KEY,
  identity_key BYTEA NOT NULL,
  spk_id BIGINT NOT NULL,
  spk_public_key BYTEA NOT NULL,
  spk_signature BYTEA NOT NULL,
  fingerprint TEXT NOT NULL,
  safety_number_half TEXT NOT NULL,
  log_index BIGINT NOT NULL,
  log_action TEXT NOT NULL CHECK (log_action IN ('publish', 'rotate')),
  sequence BIGINT NOT NULL,
  log_timestamp BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE one_time_prekeys (
  handle TEXT NOT NULL REFERENCES identities (handle) ON DELETE CASCADE,
  id BIGINT NOT NULL,
  public_key BYTEA NOT NULL,
  PRIMARY KEY (handle, id)
);
CREATE TABLE log_entries (
  idx BIGINT PRIMARY KEY,
  handle TEXT NOT NULL,
  identity_key BYTEA NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('publish', 'rotate', 'delete')),
  sequence BIGINT NOT NULL,
  timestamp BIGINT NOT NULL
);
CREATE UNIQUE INDEX log_entries_handle_sequence ON log_entries (handle, sequence);
CREATE TABLE log_nodes (
  level SMALLINT NOT NULL,
  idx BIGINT NOT NULL,
  hash BYTEA NOT NULL,
  PRIMARY KEY (level, idx)
);
CREATE TABLE log_state (
  id SMALLINT PRIMARY KEY CHECK (id = 1),
  tree_size BIGINT NOT NULL
);
INSERT INTO log_state (id, tree_size) VALUES (1, 0);
CREATE TABLE tree_heads (
  tree_size BIGINT PRIMARY KEY,
  root_hash BYTEA NOT NULL,
  timestamp BIGINT NOT NULL,
  signature BYTEA NOT NULL
);
CREATE TABLE request_nonces (
  nonce TEXT PRIMARY KEY,
  expires_at BIGINT NOT NULL
);
CREATE INDEX request_nonces_expiry ON request_nonces (expires_at);
CREATE TABLE directory_key (
  id SMALLINT PRIMARY KEY CHECK (id = 1),
  secret_key BYTEA NOT NULL,
  created_at BIGINT NOT NULL
);
`;

const down = `
DROP TABLE directory_key;
DROP TABLE request_nonces;
DROP TABLE tree_heads;
DROP TABLE log_state;
DROP TABLE log_nodes;
DROP TABLE log_entries;
DROP TABLE one_time_prekeys;
DROP TABLE identities;
`;

export const migration001: Migration = {
  version: 1,
  name: 'initial',
  sqlite: { up: sqliteUp, down },
  postgres: { up: postgresUp, down },
};
