// Every site adapter, and the choice of one for a page: the first specific adapter that matches,
// else the generic one when the page has a compose box. Pure DOM code (content script).
// Adding a site: write `site-adapters/<site>.ts` with defineAdapter, list it here, save a fixture
// in `site-adapters/fixtures/` and describe it in `fixtures/index.ts` (registry.test.ts checks).
import { generic } from './generic';
import { theLounge } from './thelounge';
import type { SiteAdapter } from './types';

/** Adapters for specific sites, tried in order. */
export const siteAdapters: readonly SiteAdapter[] = [theLounge];

export { generic as genericAdapter };

/** Every adapter, the generic one last. */
export const allAdapters: readonly SiteAdapter[] = [...siteAdapters, generic];

/** The adapter with this id, if any. */
export function adapterById(id: string): SiteAdapter | undefined {
  return allAdapters.find((adapter) => adapter.id === id);
}

/**
 * The adapter for a page: the first specific one that matches, else the generic one when the
 * page has a compose box (or opts in with `data-veil-messages`), else null.
 */
export function adapterFor(location: URL | string, doc: Document): SiteAdapter | null {
  const url = typeof location === 'string' ? new URL(location) : location;
  for (const adapter of siteAdapters) if (adapter.matches(url, doc)) return adapter;
  return generic.matches(url, doc) ? generic : null;
}
