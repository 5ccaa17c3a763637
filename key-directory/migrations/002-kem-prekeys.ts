// Migration 2: post-quantum KEM prekeys (ML-KEM-768, signed by the identity key). One-time ones
// are handed out once like X25519 one-time prekeys; at most one last-resort key per handle
// (the primary key says so) is served, and kept, when none is left. Ordinary rowid tables on
// SQLite, not WITHOUT ROWID: a row holds a 1,184-byte key, too large for a clustered index.
import type { Migration } from './index';

const sqliteUp = `
CREATE TABLE kem_one_time_prekeys (
  handle TEXT NOT NULL REFERENCES identities (handle) ON DELETE CASCADE,
  id INTEGER NOT NULL,
  public_key BLOB NOT NULL,
  signature BLOB NOT NULL,
  PRIMARY KEY (handle, id)
) STRICT;
CREATE TABLE kem_last_resort_prekeys (
  handle TEXT PRIMARY KEY REFERENCES identities (handle) ON DELETE CASCADE,
  id INTEGER NOT NULL,
  public_key BLOB NOT NULL,
  signature BLOB NOT NULL
) STRICT;
`;

const postgresUp = `
CREATE TABLE kem_one_time_prekeys (
  handle TEXT NOT NULL REFERENCES identities (handle) ON DELETE CASCADE,
  id BIGINT NOT NULL,
  public_key BYTEA NOT NULL,
  signature BYTEA NOT NULL,
  PRIMARY KEY (handle, id)
);
CREATE TABLE kem_last_resort_prekeys (
  handle TEXT PRIMARY KEY REFERENCES identities (handle) ON DELETE CASCADE,
  id BIGINT NOT NULL,
  public_key BYTEA NOT NULL,
  signature BYTEA NOT NULL
);
`;

const down = `
DROP TABLE kem_last_resort_prekeys;
DROP TABLE kem_one_time_prekeys;
`;

export const migration002: Migration = {
  version: 2,
  name: 'kem-prekeys',
  sqlite: { up: sqliteUp, down },
  postgres: { up: postgresUp, down },
};
