// Migration 6: link requests (docs/devices.md, "Linking"). `link_requests` holds what the
// directory relays between a linked browser and a new one: B's request (device key, one-time reply
// key, MAC) and later A's sealed answer, keyed by the link id (32 hex characters, derived from the
// code's secret). Rows live at most 10 minutes (the app purges older ones before every access)
// and go as soon as the answer was read, so `down` drops nothing anyone still needs.
// (Numbered 6: migrations 4 and 5 come from the per-device-bundle and erasure branches.)
import type { Migration } from './index';

export const migration006: Migration = {
  version: 6,
  name: 'link-requests',
  sqlite: {
    up: `
CREATE TABLE link_requests (
  id TEXT PRIMARY KEY CHECK (length(id) = 32),
  device_key BLOB NOT NULL,
  reply_key BLOB NOT NULL,
  mac BLOB NOT NULL,
  answer BLOB,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX link_requests_created_at ON link_requests (created_at);
`,
    down: `DROP TABLE link_requests;`,
  },
  postgres: {
    up: `
CREATE TABLE link_requests (
  id TEXT PRIMARY KEY CHECK (length(id) = 32),
  device_key BYTEA NOT NULL,
  reply_key BYTEA NOT NULL,
  mac BYTEA NOT NULL,
  answer BYTEA,
  created_at BIGINT NOT NULL
);
CREATE INDEX link_requests_created_at ON link_requests (created_at);
`,
    down: `DROP TABLE link_requests;`,
  },
};
