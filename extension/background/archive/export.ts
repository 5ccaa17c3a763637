// The archive leaving the background (background only): a conversation as a file the user asked
// for (plain text or JSON, in the clear: their choice), and the archive's part of the passphrase
// backup (encrypted with the rest of the file), checked record by record when read back.
import type { ArchiveConversationRef } from '../../messaging/archive-messages';
import { VeilError } from '../../protocol/errors';
import type { ArchiveRecord, NewRecord } from './records';

export interface ExportFile {
  file: string;
  fileName: string;
  mime: string;
}

/**
 * Every line break some viewer honours (a lone CR, NEL, U+2028…): a sender's text or sealed
 * name must not start a line that looks like another sender's message.
 */
const LINE_BREAK = /\r\n|[\n\v\f\r\u0085\u2028\u2029]/g;

/** `[2026-12-07 04:18] alice: text`, one line per message (continuation lines indented). */
export function conversationText(
  ref: ArchiveConversationRef,
  records: readonly ArchiveRecord[],
): string {
  const head = `${ref.name} · ${ref.site} (${ref.kind})`.replace(LINE_BREAK, ' ');
  const lines = records.map((r) => {
    const when = new Date(r.at).toISOString().slice(0, 16).replace('T', ' ');
    return `[${when}] ${r.sender}: ${r.text.replace(LINE_BREAK, '\n    ')}`;
  });
  return [head, '', ...lines, ''].join('\n');
}

export function conversationJson(
  ref: ArchiveConversationRef,
  records: readonly ArchiveRecord[],
): string {
  const messages = records.map((r) => ({
    id: String(r.seq),
    sender: r.sender,
    own: r.own,
    at: new Date(r.at).toISOString(),
    text: r.text,
    status: r.status,
  }));
  return JSON.stringify({ conversation: ref, messages }, null, 2);
}

export function conversationFile(
  ref: ArchiveConversationRef,
  records: readonly ArchiveRecord[],
  format: 'text' | 'json',
  now: number,
): ExportFile {
  const base = `veil-${(ref.name || ref.kind).replace(/[^\p{L}\p{N}._-]+/gu, '_').slice(0, 40)}-${new Date(now).toISOString().slice(0, 10)}`;
  return format === 'json'
    ? { file: conversationJson(ref, records), fileName: `${base}.json`, mime: 'application/json' }
    : { file: conversationText(ref, records), fileName: `${base}.txt`, mime: 'text/plain' };
}

/** The backup's archive part: the records as they are (the file is sealed as a whole). */
export interface ArchiveBackupPart {
  v: 1;
  records: NewRecord[];
}

const MAX_TEXT = 256 * 1024;
/** The largest time a Date holds (the export and the UI format every record's). */
const MAX_DATE_MS = 8.64e15;
const MAX_NAME = 512;

function isStr(v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length <= max;
}

function checkRef(v: unknown): ArchiveConversationRef {
  const r = v as ArchiveConversationRef | null;
  if (
    !r ||
    typeof r !== 'object' ||
    !isStr(r.id, 64) ||
    !/^[0-9a-f]{32}$/.test(r.id) ||
    !isStr(r.site, MAX_NAME) ||
    !isStr(r.name, MAX_NAME) ||
    (r.kind !== 'direct' && r.kind !== 'group') ||
    !Array.isArray(r.peers) ||
    r.peers.length > 100 ||
    !r.peers.every((p) => isStr(p, 128))
  )
    throw new VeilError('malformed', 'the backup archive holds a malformed conversation');
  return { id: r.id, site: r.site, name: r.name, kind: r.kind, peers: [...r.peers] };
}

/**
 * The records of a backup's archive part, each checked field by field; anything malformed
 * refuses the whole part (VeilError 'malformed') before anything is written.
 */
export function parseArchivePart(part: unknown): NewRecord[] {
  const p = part as ArchiveBackupPart | null;
  if (!p || typeof p !== 'object' || p.v !== 1 || !Array.isArray(p.records))
    throw new VeilError('malformed', 'the backup archive is malformed');
  return p.records.map((v) => {
    const r = v as NewRecord | null;
    if (
      !r ||
      typeof r !== 'object' ||
      !isStr(r.digest, 64) ||
      !/^[0-9a-f]{64}$/.test(r.digest) ||
      !isStr(r.sender, 128) ||
      typeof r.own !== 'boolean' ||
      typeof r.at !== 'number' ||
      !Number.isFinite(r.at) ||
      Math.abs(r.at) > MAX_DATE_MS ||
      !isStr(r.text, MAX_TEXT) ||
      (r.status !== 'sent' && r.status !== 'verified' && r.status !== 'unverified') ||
      (r.url !== undefined && !isStr(r.url, 4096))
    )
      throw new VeilError('malformed', 'the backup archive holds a malformed message');
    const out: NewRecord = {
      digest: r.digest,
      sender: r.sender,
      own: r.own,
      conversation: checkRef(r.conversation),
      at: r.at,
      text: r.text,
      status: r.status,
    };
    if (r.url !== undefined) out.url = r.url;
    return out;
  });
}
