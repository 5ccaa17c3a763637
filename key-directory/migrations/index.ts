// Numbered schema migrations, each with `up` (do) and `down` (undo) for both databases. Stores
// apply them in order inside a transaction and record the version in `schema_migrations`.
import { migration001 } from './001-initial';
import { migration002 } from './002-kem-prekeys';
import { migration003 } from './003-device-lists';
import { migration004 } from './004-device-keys-sync';
import { migration005 } from './005-handle-labels';
import { migration006 } from './006-link-requests';
import { migration007 } from './007-device-seen';

export interface MigrationSql {
  up: string;
  down: string;
}

export interface Migration {
  version: number;
  name: string;
  sqlite: MigrationSql;
  postgres: MigrationSql;
}

export const migrations: readonly Migration[] = [
  migration001,
  migration002,
  migration003,
  migration004,
  migration005,
  migration006,
  migration007,
];

export const LATEST_VERSION = migrations[migrations.length - 1]!.version;

/** From this schema version on, log entries carry handle labels (v2 leaves), never handles. */
export const LABELS_VERSION = 5;

/** The steps from `current` to `target`: ups ascending, or downs descending. */
export function migrationSteps(
  current: number,
  target: number,
): { migration: Migration; direction: 'up' | 'down' }[] {
  if (!Number.isInteger(target) || target < 0 || target > LATEST_VERSION)
    throw new RangeError(`unknown schema version ${target}`);
  if (target >= current)
    return migrations
      .filter((m) => m.version > current && m.version <= target)
      .map((migration) => ({ migration, direction: 'up' as const }));
  return migrations
    .filter((m) => m.version <= current && m.version > target)
    .reverse()
    .map((migration) => ({ migration, direction: 'down' as const }));
}
