// Settings → Taught sites: the site profiles the user made with "Teach Veil this site", each to
// export as a small JSON file or forget, and a file input to import one (checked field by field
// by the background; a bad file changes nothing and says why).
import { useEffect, useState } from 'preact/hooks';
import { sendMessage } from '../../messaging/client';
import type { SiteProfile } from '../../messaging/messages';
import { download } from '../download';
import { Button } from '../fields';
import { t } from '../i18n';
import { Notice } from '../notice';
import { useAction } from '../use-action';

const MAX_PROFILE_BYTES = 64 * 1024;

export function SiteProfiles() {
  const [profiles, setProfiles] = useState<SiteProfile[]>([]);
  const action = useAction();
  const { run } = action;
  const reload = async () => {
    const list = await run(() => sendMessage({ type: 'listSiteProfiles' }));
    if (list) setProfiles(list.profiles);
  };
  useEffect(() => void reload(), [run]);

  const forget = async (host: string) => {
    if (await run(() => sendMessage({ type: 'deleteSiteProfile', host }))) await reload();
  };
  const importFile = async (input: HTMLInputElement) => {
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    const saved = await run(async () => {
      if (file.size > MAX_PROFILE_BYTES) throw new Error('site profile: the file is too large');
      const text = await file.text();
      let profile: unknown;
      try {
        profile = JSON.parse(text);
      } catch {
        throw new Error('site profile: the file is not JSON');
      }
      return sendMessage({ type: 'importSiteProfile', profile });
    });
    if (!saved) return;
    await reload();
    action.setNotice({ kind: 'success', text: t('settings_profile_imported', saved.host) });
  };

  return (
    <section class="panel" aria-labelledby="profiles-title" data-veil="site-profiles">
      <h2 id="profiles-title">{t('settings_profiles')}</h2>
      {profiles.length === 0 ? (
        <p class="muted">{t('settings_profiles_none')}</p>
      ) : (
        <ul class="site-list">
          {profiles.map((p) => (
            <li key={p.host} data-veil="site-profile" data-veil-host={p.host}>
              <span>{p.host}</span>
              <Button
                variant="quiet"
                hook="export-profile"
                onClick={() =>
                  download(
                    JSON.stringify(p, null, 2),
                    `veil-site-${p.host.replace(/[^a-z0-9.-]/g, '_')}.json`,
                    'application/json',
                  )
                }
              >
                {t('settings_profile_export')}
              </Button>
              <Button variant="quiet" hook="forget-profile" onClick={() => void forget(p.host)}>
                {t('settings_profile_forget')}
              </Button>
            </li>
          ))}
        </ul>
      )}
      <div class="field">
        <label for="profile-file">{t('settings_profile_import')}</label>
        <input
          id="profile-file"
          type="file"
          accept="application/json,.json"
          data-veil="import-profile"
          onChange={(e) => void importFile(e.currentTarget)}
        />
      </div>
      <Notice notice={action.notice} />
    </section>
  );
}
