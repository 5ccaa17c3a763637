// Migration 4: linked devices' own prekeys and the sync blob (docs/devices.md). `device_keys`
// holds a listed device's key and signed prekey, one row per (handle, device id); its one-time,
// KEM one-time and last-resort KEM prekeys hang off it (a dropped device takes them along).
// `sync_blobs` keeps one end-to-end encrypted blob per handle, ciphertext only, with a version
// that goes up by one per write. All of it belongs to an identity and goes with it.
import type { Migration } from './index';

const sqliteUp = `
CREATE TABLE device_keys (
  handle TEXT NOT NULL REFERENCES identities (handle) ON DELETE CASCADE,
  device_id INTEGER NOT NULL CHECK (device_id BETWEEN 1 AND 4294967295),
  device_key BLOB NOT NULL,
  spk_id INTEGER NOT NULL,
  spk_public_key BLOB NOT NULL,
  spk_signature BLOB NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (handle, device_id)
) STRICT;
CREATE TABLE device_one_time_prekeys (
  handle TEXT NOT NULL,
  device_id INTEGER NOT NULL,
  id INTEGER NOT NULL,
  public_key BLOB NOT NULL,
  PRIMARY KEY (handle, device_id, id),
  FOREIGN KEY (handle, device_id) REFERENCES device_keys (handle, device_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE TABLE device_kem_one_time_prekeys (
  handle TEXT NOT NULL,
  device_id INTEGER NOT NULL,
  id INTEGER NOT NULL,
  public_key BLOB NOT NULL,
  signature BLOB NOT NULL,
  PRIMARY KEY (handle, device_id, id),
  FOREIGN KEY (handle, device_id) REFERENCES device_keys (handle, device_id) ON DELETE CASCADE
) STRICT;
CREATE TABLE device_kem_last_resort_prekeys (
  handle TEXT NOT NULL,
  device_id INTEGER NOT NULL,
  id INTEGER NOT NULL,
  public_key BLOB NOT NULL,
  signature BLOB NOT NULL,
  PRIMARY KEY (handle, device_id),
  FOREIGN KEY (handle, device_id) REFERENCES device_keys (handle, device_id) ON DELETE CASCADE
) STRICT;
CREATE TABLE sync_blobs (
  handle TEXT PRIMARY KEY REFERENCES identities (handle) ON DELETE CASCADE,
  version INTEGER NOT NULL CHECK (version >= 1),
  ciphertext BLOB NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
`;

const postgresUp = `
CREATE TABLE device_keys (
  handle TEXT NOT NULL REFERENCES identities (handle) ON DELETE CASCADE,
  device_id BIGINT NOT NULL CHECK (device_id BETWEEN 1 AND 4294967295),
  device_key BYTEA NOT NULL,
  spk_id BIGINT NOT NULL,
  spk_public_key BYTEA NOT NULL,
  spk_signature BYTEA NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (handle, device_id)
);
CREATE TABLE device_one_time_prekeys (
  handle TEXT NOT NULL,
  device_id BIGINT NOT NULL,
  id BIGINT NOT NULL,
  public_key BYTEA NOT NULL,
  PRIMARY KEY (handle, device_id, id),
  FOREIGN KEY (handle, device_id) REFERENCES device_keys (handle, device_id) ON DELETE CASCADE
);
CREATE TABLE device_kem_one_time_prekeys (
  handle TEXT NOT NULL,
  device_id BIGINT NOT NULL,
  id BIGINT NOT NULL,
  public_key BYTEA NOT NULL,
  signature BYTEA NOT NULL,
  PRIMARY KEY (handle, device_id, id),
  FOREIGN KEY (handle, device_id) REFERENCES device_keys (handle, device_id) ON DELETE CASCADE
);
CREATE TABLE device_kem_last_resort_prekeys (
  handle TEXT NOT NULL,
  device_id BIGINT NOT NULL,
  id BIGINT NOT NULL,
  public_key BYTEA NOT NULL,
  signature BYTEA NOT NULL,
  PRIMARY KEY (handle, device_id),
  FOREIGN KEY (handle, device_id) REFERENCES device_keys (handle, device_id) ON DELETE CASCADE
);
CREATE TABLE sync_blobs (
  handle TEXT PRIMARY KEY REFERENCES identities (handle) ON DELETE CASCADE,
  version BIGINT NOT NULL CHECK (version >= 1),
  ciphertext BYTEA NOT NULL,
  updated_at BIGINT NOT NULL
);
`;

const down = `
DROP TABLE sync_blobs;
DROP TABLE device_kem_last_resort_prekeys;
DROP TABLE device_kem_one_time_prekeys;
DROP TABLE device_one_time_prekeys;
DROP TABLE device_keys;
`;

export const migration004: Migration = {
  version: 4,
  name: 'device-keys-sync',
  sqlite: { up: sqliteUp, down },
  postgres: { up: postgresUp, down },
};
