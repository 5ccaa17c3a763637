// Which specific chat app a page looks like (the popup's suggestion; entrypoints/veil-detect.ts).
// The generic adapter is left out: nearly every page has a text box.
import { siteAdapters } from './registry';

/** The id of the first specific adapter that matches the page, or null. */
export function detectSiteAdapter(location: URL, doc: Document): string | null {
  return siteAdapters.find((adapter) => adapter.matches(location, doc))?.id ?? null;
}
