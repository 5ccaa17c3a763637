// A frame takes a key only from the page it is in, tries candidates until the background takes
// one, and says it was not placed by Veil when none comes: the page can post to it too.
import { describe, expect, it, vi } from 'vitest';
import { VeilMessageError } from '../messaging/client';
import { FrameLink, NotPlacedByVeil } from './frame-key';

const TOKEN = 'T'.repeat(22);
const REAL = 'R'.repeat(22);

function setup(token: string | null = TOKEN, waitMs = 50) {
  let listener: ((e: MessageEvent) => void) | undefined;
  const source = {
    addEventListener: (_: 'message', l: (e: MessageEvent) => void) => (listener = l),
  };
  const parent = { name: 'host page' };
  const link = new FrameLink(token, { source, parent, waitMs });
  const post = (data: unknown, from: unknown = parent) =>
    listener?.({ source: from, data } as unknown as MessageEvent);
  const key = (key: string, from: unknown = parent, token = TOKEN) =>
    post({ type: 'veil:frame-key', token, key }, from);
  return { link, post, key };
}

/** A background that takes only REAL, refusing others as it does ('forbidden'). */
function background() {
  const seen: string[] = [];
  const call = vi.fn(async ({ key }: { token: string; key: string }) => {
    seen.push(key);
    if (key !== REAL) throw new VeilMessageError('forbidden', 'this frame was not placed by Veil');
    return 'shown';
  });
  return { call, seen };
}

describe('FrameLink', () => {
  it('uses the key the page it is in posts, and keeps using it', async () => {
    const { link, key } = setup();
    const bg = background();
    const answer = link.call(bg.call);
    key(REAL);
    expect(await answer).toBe('shown');
    expect(await link.call(bg.call)).toBe('shown');
    expect(bg.seen).toEqual([REAL, REAL]);
  });

  it('tries past junk keys the page posted first', async () => {
    const { link, key } = setup();
    const bg = background();
    key('J'.repeat(22));
    key('K'.repeat(22));
    key(REAL);
    expect(await link.call(bg.call)).toBe('shown');
    expect(bg.seen).toEqual(['J'.repeat(22), 'K'.repeat(22), REAL]);
  });

  it('says it was not placed by Veil when no key the background takes came in time', async () => {
    const { link, key, post } = setup();
    const bg = background();
    key('J'.repeat(22));
    // Ignored: from another window, for another token, malformed, or not a key message.
    key(REAL, { name: 'another frame' });
    key(REAL, undefined, 'U'.repeat(22));
    key('short');
    post({ type: 'other', token: TOKEN, key: REAL });
    await expect(link.call(bg.call)).rejects.toBeInstanceOf(NotPlacedByVeil);
    expect(bg.seen).toEqual(['J'.repeat(22)]);
  });

  it('without a token in its address (a reader), takes the pair its page posts', async () => {
    const { link, key } = setup(null);
    const bg = background();
    const answer = link.call(bg.call);
    key('J'.repeat(22), undefined, 'U'.repeat(22));
    key(REAL, undefined, 'V'.repeat(22));
    expect(await answer).toBe('shown');
    expect(bg.call.mock.calls.map(([auth]) => auth)).toEqual([
      { token: 'U'.repeat(22), key: 'J'.repeat(22) },
      { token: 'V'.repeat(22), key: REAL },
    ]);
    // Malformed tokens are no candidates.
    const other = setup(null);
    other.key(REAL, undefined, 'bad token');
    await expect(other.link.call(background().call)).rejects.toBeInstanceOf(NotPlacedByVeil);
  });

  it('after saying it was not placed, opens when Veil’s pair comes late (a slow decrypt)', async () => {
    const { link, key } = setup(null, 20);
    const bg = background();
    await expect(link.call(bg.call)).rejects.toBeInstanceOf(NotPlacedByVeil);
    const late = new Promise<void>((resolve) => (link.onLateCandidate = resolve));
    key(REAL);
    await late;
    expect(await link.call(bg.call)).toBe('shown');
  });

  it('is not stopped by a made-up token the page posts first (unknown to the background)', async () => {
    const { link, key } = setup(null);
    const call = vi.fn(async ({ token, key: k }: { token: string; key: string }) => {
      if (token !== TOKEN) throw new VeilMessageError('not-found', 'this frame has expired');
      if (k !== REAL) throw new VeilMessageError('forbidden', 'not placed');
      return 'shown';
    });
    const answer = link.call(call);
    key('J'.repeat(22), undefined, 'U'.repeat(22));
    key(REAL);
    expect(await answer).toBe('shown');
    // Only unknown tokens, ever: the frame says its message expired.
    const lone = setup(null, 30);
    lone.key('J'.repeat(22), undefined, 'U'.repeat(22));
    await expect(lone.link.call(call)).rejects.toMatchObject({ code: 'not-found' });
  });

  it('waits longer while its content script says the message is still coming', async () => {
    const { link, key, post } = setup(null, 40);
    const bg = background();
    const answer = link.call(bg.call);
    // Said by another window: ignored.
    const other = setup(null, 40);
    const otherAnswer = other.link.call(bg.call).catch((e: unknown) => e);
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 25));
      post({ type: 'veil:frame-wait' });
      other.post({ type: 'veil:frame-wait' }, { name: 'another frame' });
    }
    key(REAL);
    expect(await answer).toBe('shown');
    expect(await otherAnswer).toBeInstanceOf(NotPlacedByVeil);
  });

  it('opened as a page of its own, takes nothing', async () => {
    const bg = background();
    // Top level: its "parent" is itself.
    let listener: ((e: MessageEvent) => void) | undefined;
    const self = {
      addEventListener: (_: 'message', l: (e: MessageEvent) => void) => (listener = l),
    };
    const top = new FrameLink(TOKEN, { source: self, parent: self, waitMs: 30 });
    listener?.({
      source: self,
      data: { type: 'veil:frame-key', token: TOKEN, key: REAL },
    } as never);
    await expect(top.call(bg.call)).rejects.toBeInstanceOf(NotPlacedByVeil);
    expect(bg.call).not.toHaveBeenCalled();
  });

  it('tries at most 8 keys: a page cannot keep it busy', async () => {
    const { link, key } = setup(TOKEN, 100);
    const bg = background();
    for (let i = 0; i < 20; i++) key(String.fromCharCode(65 + i).repeat(22));
    key(REAL);
    await expect(link.call(bg.call)).rejects.toBeInstanceOf(NotPlacedByVeil);
    expect(bg.seen).toHaveLength(8);
  });

  it('takes a key the background answered otherwise (expired, locked): the error is shown', async () => {
    const { link, key } = setup();
    key(REAL);
    await expect(
      link.call(async () => {
        throw new VeilMessageError('locked', 'locked');
      }),
    ).rejects.toMatchObject({ code: 'locked' });
    const bg = background();
    expect(await link.call(bg.call)).toBe('shown');
  });
});
