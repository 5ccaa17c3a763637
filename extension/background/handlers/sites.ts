// Handlers for what Veil knows of each site (background only): the profiles users taught it
// ("Teach Veil this site"), sealed in the `meta` table like other data; the picker the popup
// starts in a tab; and what each tab's content script last said it finds on its page.
import type { PageHealth, SiteProfile } from '../../messaging/messages';
import { parseSiteProfile, SiteProfileError } from '../../../site-adapters/profile';
import { BackgroundError } from '../errors';
import type { HandlerContext } from '../router';
import type { VeilService } from '../veil-service';
import { requireEnabledSite } from './page';
import type { ServiceHandlers } from './types';

export const PROFILE_PREFIX = 'siteProfile:';
/** How long a picker the user started may take to send its result. */
const PICK_TTL_MS = 10 * 60_000;

/** The site's profile, if the user taught Veil one. */
export async function siteProfile(
  svc: VeilService,
  host: string,
): Promise<SiteProfile | undefined> {
  return svc.store.get<SiteProfile>('meta', PROFILE_PREFIX + host);
}

function checked(raw: unknown): SiteProfile {
  try {
    return parseSiteProfile(raw);
  } catch (e) {
    if (e instanceof SiteProfileError) throw new BackgroundError('invalid-argument', e.message);
    throw e;
  }
}

async function store(svc: VeilService, profile: SiteProfile): Promise<void> {
  await svc.store.commit([
    { op: 'put', table: 'meta', key: PROFILE_PREFIX + profile.host, value: profile },
  ]);
}

function senderHost(ctx: HandlerContext): string {
  try {
    return new URL(ctx.url ?? '').host;
  } catch {
    throw new BackgroundError('forbidden', 'only a page may send this');
  }
}

export const siteHandlers: ServiceHandlers<
  | 'startPicker'
  | 'tabHealth'
  | 'listSiteProfiles'
  | 'importSiteProfile'
  | 'deleteSiteProfile'
  | 'pageHealth'
  | 'saveSiteProfile'
> = {
  async startPicker(svc, { tabId }) {
    if (!svc.tabHealth.has(tabId))
      throw new BackgroundError('not-found', 'Veil is not running on the page in this tab');
    const [token] = svc.pages.newTokens(1);
    svc.picks.set(tabId, { token: token!, at: svc.now() });
    const answer = await svc.tabs(tabId, 0, { type: 'veil:pick', token: token! }).catch(() => null);
    if ((answer as { ok?: unknown } | null)?.ok !== true)
      throw new BackgroundError('not-found', 'Veil is not running on the page in this tab');
    return { ok: true };
  },

  async tabHealth(svc, { tabId }) {
    const entry = svc.tabHealth.get(tabId);
    if (!entry) return { health: null, taught: false };
    return { health: entry.health, taught: !!(await siteProfile(svc, entry.host)) };
  },

  async listSiteProfiles(svc) {
    const keys = (await svc.store.keys('meta')).filter((k) => k.startsWith(PROFILE_PREFIX));
    const profiles: SiteProfile[] = [];
    for (const key of keys) {
      const p = await svc.store.get<SiteProfile>('meta', key);
      if (p) profiles.push(p);
    }
    return { profiles: profiles.sort((a, b) => a.host.localeCompare(b.host)) };
  },

  async importSiteProfile(svc, { profile }) {
    const p = checked(profile);
    await store(svc, p);
    return p;
  },

  async deleteSiteProfile(svc, { host }) {
    await svc.store.commit([{ op: 'delete', table: 'meta', key: PROFILE_PREFIX + host }]);
    return { ok: true };
  },

  async pageHealth(svc, { health }, ctx) {
    if (ctx.tabId === undefined || ctx.frameId !== 0)
      throw new BackgroundError('forbidden', 'only a tab’s page may send this');
    svc.tabHealth.set(ctx.tabId, { host: senderHost(ctx), health: health as PageHealth });
    return { ok: true };
  },

  async saveSiteProfile(svc, { token, profile }, ctx) {
    const tabId = ctx.tabId;
    const pick = tabId === undefined ? undefined : svc.picks.get(tabId);
    // Only the picker the user started from the popup, in this tab, recently, saves a profile.
    if (!pick || pick.token !== token || svc.now() - pick.at > PICK_TTL_MS)
      throw new BackgroundError('forbidden', 'no picker was started in this tab');
    const p = checked(profile);
    await requireEnabledSite(svc, ctx);
    const host = senderHost(ctx);
    if (p.host !== host)
      throw new BackgroundError('forbidden', 'a page may only teach Veil its own site');
    svc.picks.delete(tabId!);
    await store(svc, p);
    return p;
  },
};
