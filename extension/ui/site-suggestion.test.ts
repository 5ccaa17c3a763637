import { describe, expect, it, vi } from 'vitest';
import { suggestSite } from './site-suggestion';

const tab = (url: string) => async () => ({ id: 7, url });

describe('the popup’s site suggestion', () => {
  it('offers a site that looks like a chat app Veil knows and is not enabled', async () => {
    const detect = vi.fn(async () => 'thelounge');
    expect(
      await suggestSite({ tab: tab('http://127.0.0.1:9000/#/chan'), detect, enabledSites: [] }),
    ).toEqual({ tabId: 7, host: '127.0.0.1:9000', app: 'The Lounge' });
    expect(detect).toHaveBeenCalledWith(7);
  });

  it('offers nothing for an enabled site, a page like no app, the generic adapter, or no web page', async () => {
    const lounge = async () => 'thelounge';
    expect(
      await suggestSite({
        tab: tab('https://irc.example/'),
        detect: lounge,
        enabledSites: ['irc.example'],
      }),
    ).toBeNull();
    for (const id of [null, 'generic', 'no-such-adapter'])
      expect(
        await suggestSite({
          tab: tab('https://a.example/'),
          detect: async () => id,
          enabledSites: [],
        }),
      ).toBeNull();
    const detect = vi.fn(lounge);
    for (const url of ['chrome://settings/', 'about:blank', 'not a url'])
      expect(await suggestSite({ tab: tab(url), detect, enabledSites: [] })).toBeNull();
    expect(detect).not.toHaveBeenCalled();
    // A page that refuses the detection script (a store page, a crashed tab) offers nothing.
    expect(
      await suggestSite({
        tab: tab('https://b.example/'),
        detect: async () => {
          throw new Error('Cannot access contents of the page');
        },
        enabledSites: [],
      }),
    ).toBeNull();
  });
});
