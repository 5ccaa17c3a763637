// What a reader frame draws for each state, on a minimal DOM: the text only when Veil's check
// says the frame is seen as drawn, withheld text behind a button, failures and the lock by
// their reason, and the page's markup as inert text.
import { describe, expect, it, vi } from 'vitest';
import { asDom, FakeDocument, type FakeElement } from '../../site-adapters/fake-dom.test-helper';
import type { ReaderView } from '../messaging/messages';
import { renderReader, type ReaderState } from './reader-page';

const t = (key: string, subs: string[] = []) => [key, ...subs].join(':');
const shown = (view: Partial<ReaderView>): ReaderState => ({
  kind: 'shown',
  view: { status: 'verified', sender: 'alice', plaintext: 'meet at noon', ...view },
});

function draw(
  state: ReaderState,
  sight: Parameters<typeof renderReader>[2] = 'visible',
  added = false,
) {
  const doc = new FakeDocument();
  const actions = { reveal: vi.fn(), addSender: vi.fn() };
  const root = renderReader(asDom<Document>(doc), state, sight, added, actions, t as never);
  const node = root as unknown as FakeElement;
  const hook = (name: string) => node.querySelector(`[data-veil="${name}"]`);
  return { node, hook, actions };
}

describe('the reader frame', () => {
  it('shows the text, sender, status and phrase when seen as drawn', () => {
    const { node, hook } = draw(shown({ phrase: 'blue herons' }));
    expect(node.getAttribute('data-veil-status')).toBe('verified');
    expect(hook('plaintext')?.textContent).toBe('meet at noon');
    expect(hook('sender')?.textContent).toBe('alice');
    expect(hook('security-phrase')?.textContent).toBe('blue herons');
    expect(hook('status')?.textContent).toBe('✓ status_verified');
  });

  it('holds the text back while pending or covered', () => {
    for (const sight of ['pending', 'obscured'] as const) {
      const { node, hook } = draw(shown({}), sight);
      expect(hook('plaintext')).toBeNull();
      expect(node.textContent).not.toContain('meet at noon');
      expect(hook('obscured') !== null).toBe(sight === 'obscured');
    }
  });

  it('keeps withheld text behind a button that asks for it', () => {
    const { hook, actions, node } = draw(
      shown({ status: 'repeat', hidden: true, plaintext: undefined }),
    );
    expect(node.textContent).not.toContain('meet at noon');
    const button = hook('reveal')!;
    for (const { type, listener } of button.listeners) if (type === 'click') listener({});
    expect(actions.reveal).toHaveBeenCalledOnce();
  });

  it('offers to add an unverified sender who is not a contact, once', () => {
    const { hook, actions } = draw(shown({ status: 'unverified', contact: false }));
    const button = hook('add-sender')!;
    for (const { type, listener } of button.listeners) if (type === 'click') listener({});
    expect(actions.addSender).toHaveBeenCalledOnce();
    expect(
      draw(shown({ status: 'unverified', contact: false }), 'visible', true).hook('add-sender'),
    ).toBeNull();
  });

  it('names failures, the lock, and frames Veil did not place', () => {
    expect(draw({ kind: 'error', code: 'locked' }).hook('locked')?.textContent).toBe(
      'error_locked',
    );
    expect(
      draw(shown({ status: 'failed', error: 'replay', plaintext: undefined })).hook('failure')
        ?.textContent,
    ).toBe('reader_failed_replay');
    const stray = draw({ kind: 'not-placed' });
    expect(stray.node.getAttribute('data-veil')).toBe('not-placed');
    expect(stray.node.textContent).toBe('frame_not_placed');
  });

  it('shows markup in a message as text', () => {
    const { hook } = draw(shown({ plaintext: '<img src=x onerror=alert(1)><b>hi</b>' }));
    expect(hook('plaintext')?.textContent).toBe('<img src=x onerror=alert(1)><b>hi</b>');
    expect(hook('plaintext')?.children).toHaveLength(0);
  });
});
