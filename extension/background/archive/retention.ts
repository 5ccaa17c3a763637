// How long the archive keeps messages (background only): a global rule with per-conversation
// overrides, and a cap on the count, applied at start and on a daily alarm. Why this default:
// docs/archive.md, "Retention".
import type { Retention } from '../../messaging/archive-messages';
import type { Catalog } from './records';
import type { Row } from './segment-index';

/** One year: "what did they write last month" needs months; every kept message is exposure. */
export const DEFAULT_RETENTION: Retention = { keep: 'days', days: 365 };
/** The most messages kept whatever the rules say (the scale the index is measured for). */
export const MAX_ARCHIVED = 100_000;
export const MAX_RETENTION_DAYS = 36_500;
const DAY_MS = 86_400_000;

export const RETENTION_ALARM = 'veil-archive-retention';
export const RETENTION_PERIOD_MINUTES = 24 * 60;

export function globalRule(catalog: Catalog): Retention {
  return catalog.retention ?? DEFAULT_RETENTION;
}

function cutoff(rule: Retention, now: number): number {
  return rule.keep === 'forever' ? -Infinity : now - rule.days * DAY_MS;
}

/** Whether any message may be past its rule or the cap: a pass has work (from the catalog only). */
export function retentionDue(catalog: Catalog, now: number, max = MAX_ARCHIVED): boolean {
  const global = globalRule(catalog);
  let count = 0;
  for (const c of Object.values(catalog.conversations)) {
    count += c.messages;
    if (c.oldest < cutoff(c.retention ?? global, now)) return true;
  }
  return count > max;
}

/** The sequences a pass deletes: past their conversation's rule, then the oldest over the cap. */
export function expiredRows(
  rows: Iterable<Pick<Row, 'seq' | 'conversation' | 'at'>>,
  catalog: Catalog,
  now: number,
  max = MAX_ARCHIVED,
): number[] {
  const global = globalRule(catalog);
  const cut = new Map<string, number>();
  const out: number[] = [];
  const kept: Pick<Row, 'seq' | 'conversation' | 'at'>[] = [];
  for (const row of rows) {
    let c = cut.get(row.conversation);
    if (c === undefined) {
      const rule = catalog.conversations[row.conversation]?.retention ?? global;
      cut.set(row.conversation, (c = cutoff(rule, now)));
    }
    if (row.at < c) out.push(row.seq);
    else kept.push(row);
  }
  if (kept.length > max) {
    kept.sort((a, b) => a.seq - b.seq);
    for (const r of kept.slice(0, kept.length - max)) out.push(r.seq);
  }
  return out;
}

/** A rule from a request: forever, or a whole number of days from 1 to MAX_RETENTION_DAYS. */
export function isRetention(v: unknown): v is Retention {
  const r = v as Retention | null;
  if (!r || typeof r !== 'object') return false;
  if (r.keep === 'forever') return true;
  return (
    r.keep === 'days' && Number.isSafeInteger(r.days) && r.days >= 1 && r.days <= MAX_RETENTION_DAYS
  );
}
