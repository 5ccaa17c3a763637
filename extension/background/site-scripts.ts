// Which pages get Veil's content script at all (background only): one registration per site the
// user turned Veil on for (Settings → Sites), none for any other. A page on a site not enabled
// gets none of Veil's code, so it cannot tell that Veil is installed by what the script does.
// Kept in step with the settings at every worker start, after every settings change and after
// delete-everything (which leaves none).

/** The part of `browser.scripting` used here. */
export interface ScriptingApi {
  getRegisteredContentScripts(): Promise<{ id: string; matches?: string[] }[]>;
  registerContentScripts(
    scripts: {
      id: string;
      js: string[];
      matches: string[];
      runAt: 'document_idle';
      allFrames: false;
      persistAcrossSessions: true;
    }[],
  ): Promise<unknown>;
  unregisterContentScripts(filter: { ids: string[] }): Promise<unknown>;
}

/** The built content script (entrypoints/veil-content.ts). */
export const CONTENT_SCRIPT_FILE = 'veil-content.js';
const ID_PREFIX = 'veil-site:';

/**
 * The match patterns for an enabled site: a host name (any port, like the site check in
 * handlers/page.ts) or `host:port`. Firefox's match patterns take no port, so there a
 * `host:port` site matches the host's other ports too; the content script then asks the
 * background, which says no, and stays dormant (README, "Sites").
 */
export function matchPatterns(site: string, portsInPatterns: boolean): string[] {
  const colon = site.lastIndexOf(':');
  const host = portsInPatterns || colon < 0 ? site : site.slice(0, colon);
  return [`http://${host}/*`, `https://${host}/*`];
}

export class SiteScripts {
  /** One sync at a time: two settings changes in a row must not register the same id twice. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly api: ScriptingApi,
    private readonly portsInPatterns: boolean,
  ) {}

  /** Registers the scripts for `sites` and unregisters every other one of ours. */
  sync(sites: readonly string[]): Promise<void> {
    const run = this.chain.then(() => this.apply(sites));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async apply(sites: readonly string[]): Promise<void> {
    const wanted = new Map(
      sites.map((site) => [ID_PREFIX + site, matchPatterns(site, this.portsInPatterns)]),
    );
    const registered = await this.api.getRegisteredContentScripts();
    const stale = registered
      .filter((s) => s.id.startsWith(ID_PREFIX))
      .filter((s) => !sameList(wanted.get(s.id), s.matches))
      .map((s) => s.id);
    if (stale.length > 0) await this.api.unregisterContentScripts({ ids: stale });
    const kept = new Set(registered.map((s) => s.id).filter((id) => !stale.includes(id)));
    const missing = [...wanted].filter(([id]) => !kept.has(id));
    if (missing.length > 0)
      await this.api.registerContentScripts(
        missing.map(([id, matches]) => ({
          id,
          js: [CONTENT_SCRIPT_FILE],
          matches,
          runAt: 'document_idle',
          allFrames: false,
          persistAcrossSessions: true,
        })),
      );
  }
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  const set = new Set(b);
  return a.every((x) => set.has(x));
}
