// Site profiles through the router: only a picker the user started from the popup, in that tab,
// saves a profile, and only for the page's own site; imports are checked field by field; the
// page gets its site's profile with pageEnabled; profiles are sealed under the lock and gone
// after delete-everything; what a tab finds on its page reaches the popup.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import type { SiteProfile, ToContentMessage } from '../messaging/messages';
import {
  callAs as as,
  makeProfile,
  ready,
  ReplyError,
  tabContentScriptSender as contentScript,
} from './testing';

const PROFILE: SiteProfile = {
  veilSiteProfile: 1,
  host: 'chat.example',
  selectors: { composeBox: 'textarea.box', messageList: '#log', message: '#log > div.row' },
  maxMessageLength: 2_000,
};
const HEALTH = {
  adapter: { name: 'Any page', markup: 'heuristic' },
  composeBox: true,
  messageList: false,
};

async function setup() {
  const told: [number, ToContentMessage][] = [];
  const p = await ready(
    makeProfile({
      tabs: async (tabId, _frame, message) => {
        told.push([tabId, message]);
        return { ok: true };
      },
    }),
  );
  await p.call({
    type: 'createIdentity',
    handle: `sites${Date.now() % 100000}`,
    directoryUrl: 'http://127.0.0.1:1',
  });
  await p.call({ type: 'setSettings', enabledSites: ['chat.example'] });
  return { p, told };
}

const code = (e: unknown) => (e instanceof ReplyError ? e.code : String(e));

describe('site profiles', () => {
  it('saves a picked profile only with the token of the picker started in that tab', async () => {
    const { p, told } = await setup();
    // No picker started: a content script (or a renderer the page took over) cannot save one.
    const refused = await as(p, contentScript(4), {
      type: 'saveSiteProfile',
      token: 'AAAAAAAAAAAAAAAAAAAAAA',
      profile: PROFILE,
    }).catch(code);
    expect(refused).toBe('forbidden');
    // Not started in a tab whose page never reported: Veil is not running there.
    expect(await p.call({ type: 'startPicker', tabId: 4 }).catch(code)).toBe('not-found');

    await as(p, contentScript(4), { type: 'pageHealth', health: HEALTH });
    await p.call({ type: 'startPicker', tabId: 4 });
    const [tabId, told1] = told.at(-1)!;
    const pick = told1 as Extract<ToContentMessage, { type: 'veil:pick' }>;
    expect(tabId).toBe(4);
    expect(pick.type).toBe('veil:pick');
    // Another tab's content script cannot use that token, nor can a page teach another site.
    expect(
      await as(p, contentScript(5), {
        type: 'saveSiteProfile',
        token: pick.token,
        profile: PROFILE,
      }).catch(code),
    ).toBe('forbidden');
    expect(
      await as(p, contentScript(4), {
        type: 'saveSiteProfile',
        token: pick.token,
        profile: { ...PROFILE, host: 'bank.example' },
      }).catch(code),
    ).toBe('forbidden');
    // A broken profile: a typed error naming the field.
    const broken = await as(p, contentScript(4), {
      type: 'saveSiteProfile',
      token: pick.token,
      profile: { ...PROFILE, selectors: { ...PROFILE.selectors, message: '' } },
    }).catch((e: ReplyError) => e);
    expect(broken).toMatchObject({ code: 'invalid-argument' });
    expect((broken as ReplyError).message).toMatch(/selectors\.message/);

    await as(p, contentScript(4), { type: 'saveSiteProfile', token: pick.token, profile: PROFILE });
    // Used once.
    expect(
      await as(p, contentScript(4), {
        type: 'saveSiteProfile',
        token: pick.token,
        profile: PROFILE,
      }).catch(code),
    ).toBe('forbidden');
    expect(await p.call({ type: 'listSiteProfiles' })).toEqual({ profiles: [PROFILE] });
    expect(await as(p, contentScript(9), { type: 'pageEnabled', adapter: 'none' })).toEqual({
      enabled: true,
      profile: PROFILE,
    });
    expect(await p.call({ type: 'tabHealth', tabId: 4 })).toEqual({ health: HEALTH, taught: true });
    // The tab closes: what it reported goes with it.
    p.service.forgetTab(4);
    expect(await p.call({ type: 'tabHealth', tabId: 4 })).toEqual({ health: null, taught: false });
    expect(p.service.picks.has(4)).toBe(false);
  });

  it('imports a file only when every field holds up, and forgets on request and on delete-everything', async () => {
    const { p } = await setup();
    for (const bad of [null, { ...PROFILE, veilSiteProfile: 9 }, { ...PROFILE, host: 'a b' }]) {
      expect(await p.call({ type: 'importSiteProfile', profile: bad }).catch(code)).toBe(
        'invalid-argument',
      );
    }
    expect(await p.call({ type: 'listSiteProfiles' })).toEqual({ profiles: [] });
    await p.call({ type: 'importSiteProfile', profile: PROFILE });
    await p.call({ type: 'importSiteProfile', profile: { ...PROFILE, host: 'other.example' } });
    await p.call({ type: 'deleteSiteProfile', host: 'other.example' });
    expect(await p.call({ type: 'listSiteProfiles' })).toEqual({ profiles: [PROFILE] });
    await p.call({ type: 'deleteEverything', force: true });
    await p.call({ type: 'createIdentity', handle: 'again', directoryUrl: 'http://127.0.0.1:1' });
    expect(await p.call({ type: 'listSiteProfiles' })).toEqual({ profiles: [] });
  });
});
