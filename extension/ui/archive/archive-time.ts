// Times and dates of the archive's screens (pure but for the locale): a hit's time, and the
// date filters' bounds as the user's local days.

let stamp: Intl.DateTimeFormat | undefined;

/** "7 Dec 2026, 04:18" in the user's locale. */
export function formatHitTime(ms: number): string {
  stamp ??= new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  return stamp.format(ms);
}

/** An `<input type="date">` value as ms: the start of that local day, or its end. */
export function dayBound(value: string, end: boolean): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return undefined;
  const day = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (Number.isNaN(day.getTime())) return undefined;
  if (end) day.setHours(23, 59, 59, 999);
  return day.getTime();
}
