// What the popup says about the page in the active tab (site-panel.tsx), from what its content
// script last reported: which adapter reads it, whether its markup was checked, and what no
// longer matches. Pure: message keys and their substitutions.
import type { PageHealth } from '../messaging/messages';
import type { MessageKey } from './i18n';

export interface SiteNote {
  key: MessageKey;
  args?: string[];
  /** A problem (shown as an alert), not information. */
  problem?: boolean;
}

export function siteNotes(health: PageHealth, taught: boolean): SiteNote[] {
  if (!health.adapter) return [{ key: 'popup_site_none', problem: true }];
  const notes: SiteNote[] = [
    taught
      ? { key: 'popup_site_taught' }
      : { key: 'popup_site_adapter', args: [health.adapter.name] },
  ];
  if (health.adapter.markup === 'unchecked') notes.push({ key: 'popup_site_unchecked' });
  if (health.missed) notes.push({ key: 'popup_site_missed', args: [health.missed], problem: true });
  else if (!health.composeBox) notes.push({ key: 'popup_site_no_box', problem: true });
  if (!health.messageList) notes.push({ key: 'popup_site_no_list', problem: true });
  return notes;
}
