// The popup's word on a page: unchecked markup is said, and what no longer matches is a problem.
import { describe, expect, it } from 'vitest';
import { siteNotes } from './site-notes';

const ok = { composeBox: true, messageList: true };

describe('siteNotes', () => {
  it('names the adapter, and says when its markup was never checked against the live site', () => {
    expect(siteNotes({ ...ok, adapter: { name: 'Discord', markup: 'unchecked' } }, false)).toEqual([
      { key: 'popup_site_adapter', args: ['Discord'] },
      { key: 'popup_site_unchecked' },
    ]);
    expect(siteNotes({ ...ok, adapter: { name: 'The Lounge', markup: 'saved' } }, false)).toEqual([
      { key: 'popup_site_adapter', args: ['The Lounge'] },
    ]);
  });

  it('makes a problem of a site adapter that misses, a box or list not found, or no adapter', () => {
    const problems = (h: Parameters<typeof siteNotes>[0], taught = false) =>
      siteNotes(h, taught)
        .filter((n) => n.problem)
        .map((n) => n.key);
    expect(
      problems({ adapter: { name: 'Any page', markup: 'heuristic' }, ...ok, missed: 'Slack' }),
    ).toEqual(['popup_site_missed']);
    expect(
      problems(
        { adapter: { name: 'Taught', markup: 'taught' }, composeBox: false, messageList: false },
        true,
      ),
    ).toEqual(['popup_site_no_box', 'popup_site_no_list']);
    expect(problems({ adapter: null, composeBox: false, messageList: false })).toEqual([
      'popup_site_none',
    ]);
  });
});
