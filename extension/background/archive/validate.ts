// Checks the archive messages' fields (background only), as validate.ts does for the others: a
// fresh object with the known fields only; any mismatch → BackgroundError('invalid-argument').
import type {
  ArchiveMessageTable,
  ArchiveQuery,
  Retention,
} from '../../messaging/archive-messages';
import { BackgroundError } from '../errors';
import { isRetention } from './retention';

type Raw = Record<string, unknown>;
const bad = (field: string, what: string) =>
  new BackgroundError('invalid-argument', `${field} ${what}`);

const ID = /^\d{12}$/;
const CONVERSATION = /^[0-9a-f]{32}$/;
/** The archive's own tasks (random hex), or a tab's long history (background/page-history.ts). */
const TASK = /^(?:[0-9a-f]{16}|page-history:\d{1,10})$/;

function id(raw: Raw, field: string, re: RegExp): string {
  const v = raw[field];
  if (typeof v !== 'string' || !re.test(v)) throw bad(field, 'is not an archive id');
  return v;
}

function time(raw: Raw, field: string): number | undefined {
  const v = raw[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(field, 'must be a time in ms');
  return v;
}

function retention(v: unknown, nullable: boolean): Retention | null {
  if (v === null && nullable) return null;
  if (!isRetention(v))
    throw bad('retention', 'must be { keep: forever } or { keep: days, days: 1…36500 }');
  return v.keep === 'forever' ? { keep: 'forever' } : { keep: 'days', days: v.days };
}

type Validators = { [T in keyof ArchiveMessageTable]: (raw: Raw) => ArchiveMessageTable[T]['req'] };

export const ARCHIVE_VALIDATORS: Validators = {
  archiveSearch: (r) => {
    if (typeof r.words !== 'string' || r.words.length > 500)
      throw bad('words', 'must be a string of at most 500 characters');
    const q: ArchiveQuery = { words: r.words };
    if (r.contact !== undefined) {
      if (typeof r.contact !== 'string' || r.contact.length > 128)
        throw bad('contact', 'must be a handle');
      q.contact = r.contact.trim().toLowerCase();
    }
    if (r.conversation !== undefined) q.conversation = id(r, 'conversation', CONVERSATION);
    const from = time(r, 'from');
    const to = time(r, 'to');
    if (from !== undefined) q.from = from;
    if (to !== undefined) q.to = to;
    if (r.limit !== undefined) {
      if (typeof r.limit !== 'number' || !Number.isInteger(r.limit) || r.limit < 1 || r.limit > 200)
        throw bad('limit', 'must be a whole number from 1 to 200');
      q.limit = r.limit;
    }
    return q;
  },
  archiveOverview: () => ({}),
  setRetention: (r) => {
    const out: ArchiveMessageTable['setRetention']['req'] = {
      retention: retention(r.retention, r.conversation !== undefined),
    };
    if (r.conversation !== undefined) out.conversation = id(r, 'conversation', CONVERSATION);
    return out;
  },
  archiveDelete: (r) => {
    if (r.all === true) return { all: true };
    if (r.message !== undefined) return { message: id(r, 'message', ID) };
    if (r.conversation !== undefined) return { conversation: id(r, 'conversation', CONVERSATION) };
    throw bad('archiveDelete', 'needs message, conversation or all: true');
  },
  archiveExport: (r) => {
    if (r.format !== 'text' && r.format !== 'json') throw bad('format', 'must be text or json');
    return { conversation: id(r, 'conversation', CONVERSATION), format: r.format };
  },
  openArchived: (r) => ({ id: id(r, 'id', ID) }),
  tasks: () => ({}),
  cancelTask: (r) => ({ id: id(r, 'id', TASK) }),
};
