// Migration 7: when each listed device of a handle last made a signed request (docs/devices.md,
// "Last seen"). One row per (handle, device id), overwritten on every signed sync or key request
// of that device and erased with the identity. Only the account's own devices are told (in the
// signed sync answer); `down` drops nothing anyone needs to keep.
import type { Migration } from './index';

export const migration007: Migration = {
  version: 7,
  name: 'device-seen',
  sqlite: {
    up: `
CREATE TABLE device_seen (
  handle TEXT NOT NULL,
  device_id INTEGER NOT NULL CHECK (device_id BETWEEN 1 AND 4294967295),
  seen_at INTEGER NOT NULL,
  PRIMARY KEY (handle, device_id)
) STRICT;
`,
    down: `DROP TABLE device_seen;`,
  },
  postgres: {
    up: `
CREATE TABLE device_seen (
  handle TEXT NOT NULL,
  device_id BIGINT NOT NULL CHECK (device_id BETWEEN 1 AND 4294967295),
  seen_at BIGINT NOT NULL,
  PRIMARY KEY (handle, device_id)
);
`,
    down: `DROP TABLE device_seen;`,
  },
};
