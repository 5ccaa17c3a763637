// Every site adapter, and the choice of one for a page: the first specific adapter that matches,
// else the generic one when the page has a compose box. Pure DOM code (content script).
// Adding a site: write `site-adapters/<site>.ts` with defineAdapter, list it here, save a fixture
// in `site-adapters/fixtures/` and describe it in `fixtures/index.ts` (registry.test.ts checks).
import { generic } from './generic';
import { theLounge } from './thelounge';
import { element } from './element';
import { mattermost } from './mattermost';
import { rocketChat } from './rocketchat';
import { telegramK } from './telegram-k';
import { telegramA } from './telegram-a';
import { discord } from './discord';
import { slack } from './slack';
import { whatsapp } from './whatsapp';
import { messenger } from './messenger';
import { teams } from './teams';
import { googleChat } from './google-chat';
import type { SiteAdapter } from './types';

/** Adapters for specific sites, tried in order. */
export const siteAdapters: readonly SiteAdapter[] = [
  theLounge,
  // open-source apps (adapters modelled on their source):
  element,
  mattermost,
  rocketChat,
  telegramK,
  telegramA,
  // closed apps (adapters modelled on public extensions' code):
  discord,
  slack,
  whatsapp,
  messenger,
  teams,
  googleChat,
];

export { generic as genericAdapter };

/** Every adapter, the generic one last. */
export const allAdapters: readonly SiteAdapter[] = [...siteAdapters, generic];

/** The adapter with this id, if any. */
export function adapterById(id: string): SiteAdapter | undefined {
  return allAdapters.find((adapter) => adapter.id === id);
}

/**
 * The adapter for a page: the first specific one that matches and finds its compose box, else
 * the generic one when the page has a compose box (or opts in with `data-veil-messages`), else
 * null. A site's adapter whose selectors miss (the site changed its markup) thus falls back to
 * the generic one; `siteAdapterFor` still names it, for the popup to say so.
 */
export function adapterFor(location: URL | string, doc: Document): SiteAdapter | null {
  const url = typeof location === 'string' ? new URL(location) : location;
  for (const adapter of siteAdapters) {
    if (adapter.matches(url, doc) && adapter.composeBox(doc)) return adapter;
  }
  return generic.matches(url, doc) ? generic : null;
}

/** The specific adapter made for this page's site, whether or not its selectors match now. */
export function siteAdapterFor(location: URL | string, doc: Document): SiteAdapter | null {
  const url = typeof location === 'string' ? new URL(location) : location;
  return siteAdapters.find((adapter) => adapter.matches(url, doc)) ?? null;
}
