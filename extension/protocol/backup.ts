// Passphrase-encrypted backup of the protocol store plus caller extras, restorable on a new
// device. scrypt + XChaCha20-Poly1305. A backup never holds anything that sends (docs/protocol.md,
// "Backup"): a restored copy that sent again would reuse message keys under a constant nonce.
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { scryptAsync } from '@noble/hashes/scrypt.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ByteReader, ByteWriter, bytesEqual, utf8ToBytes, wipe } from './bytes';
import type { CryptoProvider } from './crypto/provider';
import { VeilError } from './errors';
import { decodeValue, encodeValue } from './serialize';
import { STORE_TABLES, type ProtocolStore, type StoreOp, type StoreTable } from './store';

const MAGIC = utf8ToBytes('VEILBAK');
const VERSION = 1;
const KDF_SCRYPT = 1;
/** OWASP's scrypt floor is N=2^17, r=8, p=1 (128 MiB): slow enough to make guessing expensive. */
export const DEFAULT_SCRYPT = { log2N: 17, r: 8, p: 1 } as const;
// What a backup file may ask of us, checked before scrypt runs, so a hostile file can neither
// exhaust memory nor hold the background for minutes: memory (128·N·r bytes) at most twice the
// default's, work (∝ N·r·p) at most four times the default's, N at least 2^10.
const MIN_LOG2N = 10;
/** Most memory a backup's scrypt may take: 256 MiB. */
export const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;
const MAX_SCRYPT_WORK = 4 * 2 ** DEFAULT_SCRYPT.log2N * DEFAULT_SCRYPT.r * DEFAULT_SCRYPT.p;

type RowRule = 'keep' | 'drop' | ((key: string, value: unknown) => unknown);

/**
 * What a backup keeps of each protocol table, and what a restore takes from a file (a file made
 * before this rule may hold more). A new table needs a decision here (the type says so).
 * Nothing that sends survives: a sending chain or own sender key restored twice, or restored
 * while the original goes on, would seal different texts under one (key, nonce).
 */
const BACKUP_RULES: Record<StoreTable, RowRule> = {
  identity: 'keep',
  // Prekeys never seal: a session built on them sends only after a sending step from a new
  // random ratchet key pair (either side), so two copies never share a sending chain. Kept so
  // that first messages made from what the directory still serves can be read: it hands out
  // the lowest unused one-time prekey first, and a publish with the same key only adds more.
  // The cost: a one-time prekey in a file outlives its deletion on the original device.
  signedPrekeys: 'keep',
  oneTimePrekeys: 'keep',
  // The same holds for KEM prekeys: they only ever decapsulate.
  kemPrekeys: 'keep',
  sessions: 'drop',
  // Received sender keys (`in:`) only decrypt; own ones (`own:`) and anything unknown are dropped.
  senderKeys: (key, value) => (key.startsWith('in:') ? value : undefined),
  // Trust state stays; the pointer to the session we sent on goes with the session.
  contacts: (_key, value) => {
    if (!value || typeof value !== 'object' || !('session' in value)) return value;
    const { session: _dropped, ...rest } = value as Record<string, unknown>;
    return rest;
  },
  meta: 'keep',
};

/** How far a restore moves every sealed sequence on (more than anyone sends between backups). */
export const RESTORED_SEQUENCE_JUMP = 2 ** 20;

/** Tables a backup holds rows of. */
export const BACKUP_TABLES: readonly StoreTable[] = STORE_TABLES.filter(
  (t) => BACKUP_RULES[t] !== 'drop',
);

export interface BackupContents {
  createdAt: number;
  tables: Partial<Record<StoreTable, Record<string, unknown>>>;
  /** Anything the caller wants restored too (settings, cached history). */
  extra?: Record<string, unknown>;
}

export interface BackupOptions {
  crypto: CryptoProvider;
  now: number;
  scrypt?: { log2N: number; r: number; p: number };
  extra?: Record<string, unknown>;
}

/** Reads every table and seals it under the passphrase. */
export async function exportBackup(
  store: ProtocolStore,
  passphrase: string,
  opts: BackupOptions,
): Promise<Uint8Array> {
  if (passphrase.length < 8)
    throw new VeilError('invalid-argument', 'backup passphrase must be at least 8 characters');
  const tables: BackupContents['tables'] = {};
  for (const table of BACKUP_TABLES) {
    const rows: Record<string, unknown> = {};
    for (const key of await store.keys(table)) {
      const value = backupRow(table, key, await store.get(table, key));
      if (value !== undefined) rows[key] = value;
    }
    tables[table] = rows;
  }
  const contents: BackupContents = { createdAt: opts.now, tables, extra: opts.extra };
  return sealBackup(contents, passphrase, opts.crypto, opts.scrypt ?? DEFAULT_SCRYPT);
}

export async function sealBackup(
  contents: BackupContents,
  passphrase: string,
  crypto: CryptoProvider,
  params: { log2N: number; r: number; p: number } = DEFAULT_SCRYPT,
): Promise<Uint8Array> {
  checkParams(params);
  const salt = crypto.randomBytes(16);
  const nonce = crypto.randomBytes(24);
  const header = new ByteWriter()
    .bytes(MAGIC)
    .u8(VERSION)
    .u8(KDF_SCRYPT)
    .u8(params.log2N)
    .u8(params.r)
    .u8(params.p)
    .bytes(salt)
    .bytes(nonce);
  const { key, check } = await deriveKeys(passphrase, salt, params);
  const headerBytes = header.finish();
  const sealed = xchacha20poly1305(key, nonce, headerBytes).encrypt(encodeValue(contents));
  wipe(key);
  return new ByteWriter().bytes(headerBytes).bytes(check).bytes(sealed).finish();
}

/**
 * Opens a backup. Wrong passphrase → 'wrong-passphrase'; a file that opens with the right
 * passphrase but was altered → 'bad-mac'; not a backup → 'malformed'/'truncated'/'unknown-version'.
 */
export async function openBackup(file: Uint8Array, passphrase: string): Promise<BackupContents> {
  const r = new ByteReader(file);
  if (!bytesEqual(r.bytes(MAGIC.length), MAGIC))
    throw new VeilError('malformed', 'not a Veil backup file');
  const version = r.u8();
  if (version !== VERSION) throw new VeilError('unknown-version', 'unsupported backup version');
  if (r.u8() !== KDF_SCRYPT) throw new VeilError('unknown-version', 'unsupported backup KDF');
  const params = { log2N: r.u8(), r: r.u8(), p: r.u8() };
  checkParams(params);
  const salt = r.bytes(16);
  const nonce = r.bytes(24);
  const headerBytes = file.subarray(0, MAGIC.length + 5 + 16 + 24);
  const check = r.bytes(8);
  const sealed = r.rest();
  if (sealed.length < 16) throw new VeilError('truncated', 'backup file ends early');
  const keys = await deriveKeys(passphrase, salt, params);
  if (!bytesEqual(keys.check, check)) {
    wipe(keys.key);
    throw new VeilError('wrong-passphrase', 'the passphrase does not open this backup');
  }
  let plain: Uint8Array;
  try {
    plain = xchacha20poly1305(keys.key, nonce, headerBytes).decrypt(sealed);
  } catch {
    throw new VeilError('bad-mac', 'the backup file is damaged');
  } finally {
    wipe(keys.key);
  }
  const value = decodeValue(plain);
  wipe(plain);
  return asContents(value);
}

/**
 * Restores a backup into a store without an identity, in one commit (all or nothing): clears
 * every protocol table, then writes what `backupRows` keeps of the file. A store that has an
 * identity is refused ('invalid-argument') and left as it was: restoring over it would put older
 * prekeys and state over newer ones.
 */
export async function restoreBackup(store: ProtocolStore, contents: BackupContents): Promise<void> {
  if (await store.get('identity', 'self'))
    throw new VeilError('invalid-argument', 'this store has an identity; delete it first');
  const ops: StoreOp[] = [];
  for (const table of STORE_TABLES)
    for (const key of await store.keys(table)) ops.push({ op: 'delete', table, key });
  ops.push(...backupRows(contents));
  await store.commit(ops);
}

/**
 * The rows a restore writes: the file's, less whatever could send (BACKUP_RULES), whatever
 * version of Veil made the file.
 */
export function backupRows(contents: BackupContents): (StoreOp & { op: 'put' })[] {
  const ops: (StoreOp & { op: 'put' })[] = [];
  for (const table of STORE_TABLES) {
    for (const [key, row] of Object.entries(contents.tables[table] ?? {})) {
      let value = backupRow(table, key, row);
      if (table === 'meta') value = restoredMeta(key, value);
      if (value !== undefined) ops.push({ op: 'put', table, key, value });
    }
  }
  return ops;
}

/**
 * Per-conversation sequences jump ahead on restore: the original may have sent more since the
 * file was made, and a restored device that counted on from the file would have its new
 * messages shown as repeats (sealed order, docs/protocol.md).
 */
function restoredMeta(key: string, value: unknown): unknown {
  const seq = (value as { seq?: unknown } | null)?.seq;
  if (!key.startsWith('out/') || typeof seq !== 'number') return value;
  return { ...(value as object), seq: seq + RESTORED_SEQUENCE_JUMP };
}

function backupRow(table: StoreTable, key: string, value: unknown): unknown {
  const rule = BACKUP_RULES[table];
  if (rule === 'keep') return value;
  if (rule === 'drop') return undefined;
  return rule(key, value);
}

function checkParams(p: { log2N: number; r: number; p: number }): void {
  const ok =
    [p.log2N, p.r, p.p].every(Number.isSafeInteger) &&
    p.log2N >= MIN_LOG2N &&
    p.r >= 1 &&
    p.p >= 1 &&
    128 * 2 ** p.log2N * p.r <= MAX_SCRYPT_MEMORY &&
    2 ** p.log2N * p.r * p.p <= MAX_SCRYPT_WORK;
  if (!ok) throw new VeilError('invalid-argument', 'backup KDF parameters out of range');
}

async function deriveKeys(
  passphrase: string,
  salt: Uint8Array,
  p: { log2N: number; r: number; p: number },
): Promise<{ key: Uint8Array; check: Uint8Array }> {
  const master = await scryptAsync(utf8ToBytes(passphrase.normalize('NFKC')), salt, {
    N: 2 ** p.log2N,
    r: p.r,
    p: p.p,
    dkLen: 32,
    maxmem: 2 ** (p.log2N + 7) * p.r + 1024 * 1024,
  });
  const key = hkdf(sha256, master, salt, utf8ToBytes('Veil backup key'), 32);
  // A passphrase check value separate from the AEAD lets us tell "wrong passphrase" from
  // "damaged file"; it gives a guesser nothing the AEAD tag would not.
  const check = hkdf(sha256, master, salt, utf8ToBytes('Veil backup check'), 8);
  wipe(master);
  return { key, check };
}

function asContents(v: unknown): BackupContents {
  if (!v || typeof v !== 'object') throw new VeilError('malformed', 'backup contents malformed');
  const o = v as Record<string, unknown>;
  if (typeof o.createdAt !== 'number' || !o.tables || typeof o.tables !== 'object')
    throw new VeilError('malformed', 'backup contents malformed');
  // Any protocol table: files made before BACKUP_RULES hold sessions too (restore drops them).
  for (const [table, rows] of Object.entries(o.tables)) {
    if (!STORE_TABLES.includes(table as StoreTable) || !rows || typeof rows !== 'object')
      throw new VeilError('malformed', 'backup contents malformed');
  }
  if (o.extra !== undefined && (typeof o.extra !== 'object' || o.extra === null))
    throw new VeilError('malformed', 'backup contents malformed');
  return o as unknown as BackupContents;
}
