// The archive's record store (background only): one sealed record per archived message in the
// `archive` table, keyed by a 12-digit sequence number (so key order is archive order and the
// index replays a tail by key range), and a sealed `catalog` in `archiveIndex`: the next
// sequence, each conversation as its messages sealed it, its counts and its retention rule.
// An add writes its record only; the catalog is written when idle and brought up to date from
// the records past it when read.
// Every write goes through KeyStore.commit, which seals under the lock's data key.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type {
  ArchiveConversationRef,
  ArchiveStatus,
  Retention,
} from '../../messaging/archive-messages';
import { utf8ToBytes } from '../../protocol/bytes';
import type { KeyStore, StoreOpAny } from '../key-store';

/** One archived message, as sealed in the `archive` table. */
export interface ArchiveRecord {
  seq: number;
  /** Hex SHA-256 of the envelope: the plaintext cache's key, and the block's digest on its page. */
  digest: string;
  sender: string;
  own: boolean;
  conversation: ArchiveConversationRef;
  /** Sealed send time (ms). */
  at: number;
  text: string;
  status: ArchiveStatus;
  /** The page (tab URL) it was read or sent on. */
  url?: string;
}

export type NewRecord = Omit<ArchiveRecord, 'seq'>;

export interface ConversationEntry {
  ref: ArchiveConversationRef;
  messages: number;
  newest: number;
  oldest: number;
  /** Sealed bytes of its records (estimated as their encoded size plus the box). */
  bytes: number;
  retention?: Retention;
}

export interface Catalog {
  next: number;
  /**
   * Every record up to this sequence is counted in the stored catalog; later ones are counted
   * when it is read (the records are the log: an add writes its record only).
   */
  covered?: number;
  /** Global rule; absent: the default (retention.ts). */
  retention?: Retention;
  conversations: Record<string, ConversationEntry>;
}

export const CATALOG_KEY = 'catalog';
/** Most peers a group conversation lists (the senders seen there). */
const MAX_PEERS = 100;

export function recordKey(seq: number): string {
  return String(seq).padStart(12, '0');
}

export function seqOf(id: string): number | undefined {
  return /^\d{12}$/.test(id) ? Number(id) : undefined;
}

/**
 * A conversation's stable id, from what its messages sealed: the site, and for a direct one the
 * peer (each side's page names it differently), for a group its id or else its sealed name.
 */
export function conversationId(
  site: string,
  kind: 'direct' | 'group',
  peerOrGroup: string,
): string {
  const digest = sha256(
    utf8ToBytes(`veil-archive-conversation/v1\n${site}\n${kind}\n${peerOrGroup}`),
  );
  return bytesToHex(digest.subarray(0, 16));
}

/** Rough sealed size of a record: what the box holds plus nonce and tag. */
export function sealedSize(record: ArchiveRecord): number {
  return utf8ToBytes(JSON.stringify(record)).length + 40;
}

export function emptyCatalog(): Catalog {
  return { next: 1, conversations: {} };
}

/** The catalog after `record` joined it (a new copy; the old one is left as it was). */
export function withRecord(catalog: Catalog, record: ArchiveRecord): Catalog {
  const id = record.conversation.id;
  const old = catalog.conversations[id];
  const peers = old ? [...old.ref.peers] : [...record.conversation.peers];
  for (const p of record.conversation.peers)
    if (!peers.includes(p) && peers.length < MAX_PEERS) peers.push(p);
  const entry: ConversationEntry = {
    ...(old ?? { messages: 0, newest: record.at, oldest: record.at, bytes: 0 }),
    ref: { ...record.conversation, peers },
  };
  entry.messages += 1;
  entry.newest = Math.max(entry.newest, record.at);
  entry.oldest = Math.min(entry.oldest, record.at);
  entry.bytes += sealedSize(record);
  return {
    ...catalog,
    next: Math.max(catalog.next, record.seq + 1),
    conversations: { ...catalog.conversations, [id]: entry },
  };
}

/** Reads and writes the records and the catalog. */
export class RecordStore {
  constructor(private readonly store: KeyStore) {}

  /** The stored catalog with the records written after it counted in. */
  async catalog(): Promise<Catalog> {
    let catalog = (await this.store.get<Catalog>('archiveIndex', CATALOG_KEY)) ?? emptyCatalog();
    for (let after = catalog.covered ?? catalog.next - 1; ;) {
      const batch = await this.after(after, 500);
      if (batch.length === 0) break;
      for (const r of batch) catalog = withRecord(catalog, r);
      after = batch.at(-1)!.seq;
    }
    return catalog;
  }

  async get(seq: number): Promise<ArchiveRecord | undefined> {
    return this.store.get<ArchiveRecord>('archive', recordKey(seq));
  }

  async getMany(seqs: readonly number[]): Promise<(ArchiveRecord | undefined)[]> {
    return this.store.getMany<ArchiveRecord>('archive', seqs.map(recordKey));
  }

  /** Records after `seq`, in order, at most `limit`. */
  async after(seq: number, limit: number): Promise<ArchiveRecord[]> {
    const rows = await this.store.entriesAfter<ArchiveRecord>('archive', recordKey(seq), limit);
    return rows.map(([, r]) => r);
  }

  async count(): Promise<number> {
    return this.store.count('archive');
  }

  putOp(record: ArchiveRecord): StoreOpAny {
    return { op: 'put', table: 'archive', key: recordKey(record.seq), value: record };
  }

  deleteOps(seqs: readonly number[]): StoreOpAny[] {
    return seqs.map((s) => ({ op: 'delete', table: 'archive', key: recordKey(s) }));
  }

  /** Writes the catalog as counting every record below its `next`. */
  catalogOp(catalog: Catalog): StoreOpAny {
    const value: Catalog = { ...catalog, covered: catalog.next - 1 };
    return { op: 'put', table: 'archiveIndex', key: CATALOG_KEY, value };
  }
}
