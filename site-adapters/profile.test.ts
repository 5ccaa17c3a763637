// Site profiles as files: a good one round-trips; a bad one is refused with a typed error that
// names the field, whatever shape it has; the adapter made from one works on its host only.
import { describe, expect, it } from 'vitest';
import {
  adapterFromProfile,
  parseSiteProfile,
  SiteProfileError,
  type SiteProfile,
} from './profile';

const good: SiteProfile = {
  veilSiteProfile: 1,
  host: 'chat.example:8080',
  selectors: {
    composeBox: 'div.composer > textarea',
    messageList: '#log',
    message: '#log > div.row',
    messageBody: ':scope > span.text',
  },
  maxMessageLength: 1_000,
};

describe('parseSiteProfile', () => {
  it('keeps a good profile as it is, and fills in the default limit', () => {
    expect(parseSiteProfile(JSON.parse(JSON.stringify(good)))).toEqual(good);
    const { maxMessageLength: _, ...noLimit } = good;
    expect(parseSiteProfile(noLimit).maxMessageLength).toBe(2_000);
  });

  it('drops fields it does not know', () => {
    const extra = { ...good, script: 'alert(1)', selectors: { ...good.selectors, onload: 'x' } };
    expect(parseSiteProfile(extra)).toEqual(good);
  });

  it.each([
    ['profile', null],
    ['profile', 'a string'],
    ['veilSiteProfile', { ...good, veilSiteProfile: 2 }],
    ['host', { ...good, host: 'chat example' }],
    ['host', { ...good, host: 'https://chat.example/' }],
    ['selectors', { ...good, selectors: undefined }],
    ['selectors.composeBox', { ...good, selectors: { ...good.selectors, composeBox: '' } }],
    ['selectors.message', { ...good, selectors: { ...good.selectors, message: 42 } }],
    [
      'selectors.messageList',
      { ...good, selectors: { ...good.selectors, messageList: 'a{color:red}' } },
    ],
    [
      'selectors.messageBody',
      { ...good, selectors: { ...good.selectors, messageBody: '<img src=x>' } },
    ],
    [
      'selectors.composeBox',
      { ...good, selectors: { ...good.selectors, composeBox: 'x'.repeat(601) } },
    ],
    ['maxMessageLength', { ...good, maxMessageLength: 31 }],
    ['maxMessageLength', { ...good, maxMessageLength: 1.5 }],
    ['maxMessageLength', { ...good, maxMessageLength: '2000' }],
  ])('refuses a bad %s', (field, raw) => {
    let error: unknown;
    try {
      parseSiteProfile(raw);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SiteProfileError);
    expect((error as SiteProfileError).field).toBe(field);
  });
});

describe('adapterFromProfile', () => {
  it('matches its own host only, and names conversations as the generic adapter does', () => {
    const adapter = adapterFromProfile(good);
    const doc = {} as Document;
    expect(adapter.matches(new URL('http://chat.example:8080/room'), doc)).toBe(true);
    expect(adapter.matches(new URL('http://chat.example/room'), doc)).toBe(false);
    expect(adapter.matches(new URL('http://evil.example:8080/room'), doc)).toBe(false);
    expect(adapter.markup).toBe('taught');
    expect(adapter.maxMessageLength).toBe(1_000);
    expect(adapter.id).toBe('generic');
  });

  it('finds nothing, rather than throwing, with a selector the browser cannot parse', () => {
    const adapter = adapterFromProfile({
      ...good,
      selectors: { ...good.selectors, composeBox: 'div:::nope' },
    });
    const doc = {
      querySelector: () => {
        throw new SyntaxError('not a valid selector');
      },
    } as unknown as Document;
    expect(adapter.composeBox(doc)).toBeNull();
    expect(adapter.messageList(doc)).toBeNull();
  });
});
