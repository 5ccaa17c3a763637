// Handlers for settings and for deleting everything (background only). The directory URL must
// be https:// (http:// only on localhost); per-site enable is a list of host names.
import type { Settings } from '../../messaging/messages';
import { HOST_NAME } from '../../../site-adapters/profile';
import { normalizeDirectoryUrl } from '../directory-client';
import { BackgroundError } from '../errors';
import { DEFAULT_SETTINGS } from '../veil-service';
import type { ServiceHandlers } from './types';

/** Settings with a checked directory URL and lowercased, de-duplicated host names. */
export function normalizeSettings(s: Partial<Settings>, base = DEFAULT_SETTINGS): Settings {
  const directoryUrl =
    s.directoryUrl === undefined ? base.directoryUrl : normalizeDirectoryUrl(s.directoryUrl);
  let enabledSites = base.enabledSites;
  if (s.enabledSites !== undefined) {
    if (!Array.isArray(s.enabledSites))
      throw new BackgroundError('invalid-argument', 'enabledSites must be a list');
    enabledSites = [
      ...new Set(
        s.enabledSites.map((h) => {
          const host = String(h).trim().toLowerCase();
          if (host.length > 253 || !HOST_NAME.test(host))
            throw new BackgroundError(
              'invalid-argument',
              'enabledSites holds something not a host',
            );
          return host;
        }),
      ),
    ];
  }
  return { directoryUrl, enabledSites: [...enabledSites] };
}

export const settingsHandlers: ServiceHandlers<'getSettings' | 'setSettings' | 'deleteEverything'> =
  {
    getSettings: (svc) => svc.settings(),

    async setSettings(svc, req) {
      const next = normalizeSettings(req, await svc.settings());
      await svc.store.commit([{ op: 'put', table: 'settings', key: 'settings', value: next }]);
      await svc.syncSites();
      return next;
    },

    async deleteEverything(svc, { force }) {
      let directoryDeleted = false;
      const profile = await svc.profile().catch(() => undefined);
      if (profile?.published) {
        try {
          directoryDeleted = await svc.directory.remove(
            profile.published.url,
            svc.veil,
            profile.handle,
          );
        } catch (e) {
          // Without force, a failed directory delete deletes nothing here either: once the
          // key is gone, nobody could ever remove the directory's entry.
          if (!force) throw e;
        }
      }
      await svc.store.clearAll();
      await svc.afterWipe();
      return { ok: true, directoryDeleted };
    },
  };
