import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { CONTENT_SCRIPT_FILE, matchPatterns, SiteScripts } from './site-scripts';
import { makeProfile, MemoryScripting, ready } from './testing';

describe('site scripts', () => {
  it('match a site on both schemes; ports only where the browser takes them', () => {
    expect(matchPatterns('chat.example', true)).toEqual([
      'http://chat.example/*',
      'https://chat.example/*',
    ]);
    expect(matchPatterns('127.0.0.1:9000', true)).toEqual([
      'http://127.0.0.1:9000/*',
      'https://127.0.0.1:9000/*',
    ]);
    expect(matchPatterns('127.0.0.1:9000', false)).toEqual([
      'http://127.0.0.1/*',
      'https://127.0.0.1/*',
    ]);
  });

  it('register one script per enabled site and drop the ones no longer enabled', async () => {
    const api = new MemoryScripting();
    const sites = new SiteScripts(api, true);
    await sites.sync(['a.example', 'b.example:8080']);
    expect([...api.scripts.values()].map((s) => [s.matches, s.js])).toEqual([
      [['http://a.example/*', 'https://a.example/*'], [CONTENT_SCRIPT_FILE]],
      [['http://b.example:8080/*', 'https://b.example:8080/*'], [CONTENT_SCRIPT_FILE]],
    ]);
    // Two changes at once run one after the other: no duplicate registration error.
    await Promise.all([sites.sync(['b.example:8080']), sites.sync(['c.example'])]);
    expect([...api.scripts.values()].flatMap((s) => s.matches)).toEqual([
      'http://c.example/*',
      'https://c.example/*',
    ]);
    await sites.sync([]);
    expect(api.scripts.size).toBe(0);
  });

  it('follow the settings and delete-everything', async () => {
    const scripting = new MemoryScripting();
    const p = await ready(makeProfile({ scripting }));
    expect(scripting.scripts.size).toBe(0);
    const r = await p.send({ type: 'setSettings', enabledSites: ['Chat.Example'] });
    expect(r).toMatchObject({ ok: true });
    expect([...scripting.scripts.values()].flatMap((s) => s.matches)).toEqual([
      'http://chat.example/*',
      'https://chat.example/*',
    ]);
    // Bad input changes nothing, the registration included.
    const bad = await p.send({ type: 'setSettings', enabledSites: ['not a host/'] });
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid-argument' } });
    expect(scripting.scripts.size).toBe(1);
    await p.send({ type: 'deleteEverything', force: true });
    expect(scripting.scripts.size).toBe(0);
  });
});
