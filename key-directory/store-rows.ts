// Row mapping and small helpers shared by the SQLite and PostgreSQL directory stores: both
// return rows as plain objects with Buffers for BLOB/BYTEA columns and numbers or strings for
// integers.
import type { LogAction } from '../extension/protocol/transparency';
import type { IdentityRecord, StoredLogEntry } from './store';

export type Row = Record<string, unknown>;

export const u8 = (b: unknown): Uint8Array => {
  const buf = b as Buffer;
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
};
export const blob = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
export const num = (v: unknown): number => Number(v);
export const seconds = (ms: number) => Math.floor(ms / 1000);

/** Key comparison for both stores: the protocol's constant-time one. */
export { bytesEqual as sameBytes } from '../extension/protocol/bytes';

export function identityFromRow(r: Row): IdentityRecord {
  return {
    handle: r.handle as string,
    identityKey: u8(r.identity_key),
    signedPrekey: {
      id: num(r.spk_id),
      publicKey: u8(r.spk_public_key),
      signature: u8(r.spk_signature),
    },
    fingerprint: r.fingerprint as string,
    safetyNumberHalf: r.safety_number_half as string,
    logIndex: num(r.log_index),
    logAction: r.log_action as 'publish' | 'rotate',
    sequence: num(r.sequence),
    logTimestamp: num(r.log_timestamp),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

export function logEntryFromRow(r: Row): StoredLogEntry {
  return {
    index: num(r.idx),
    handle: r.handle as string,
    identityKey: u8(r.identity_key),
    action: r.action as LogAction,
    sequence: num(r.sequence),
    timestamp: num(r.timestamp),
  };
}

/** Thrown inside a transaction to roll it back and report `result` instead. */
export class Rollback<T> extends Error {
  constructor(readonly result: T) {
    super('rollback');
  }
}
