// The toggle next to the host's compose box: placed once, put back after the host re-rendered
// it away, and the compose box is not looked up again while the toggle is in place.
import { describe, expect, it, vi } from 'vitest';
import { asDom, FakeDocument, h } from '../../site-adapters/fake-dom.test-helper';
import type { SiteAdapter } from '../../site-adapters/types';
import { ComposerControl } from './composer';

function setup() {
  const doc = new FakeDocument();
  const form = h(doc, 'form', {}, h(doc, 'textarea', {}));
  doc.body.append(form);
  const toggleAnchor = vi.fn(() => asDom<HTMLElement>(form.children[0]));
  const adapter = { toggleAnchor } as unknown as SiteAdapter;
  const control = new ComposerControl(adapter, asDom<Document>(doc), {
    conversation: () => ({ context: 'generic:room' }),
    authors: () => [],
    register: async () => ({ token: 'token', key: 'key' }),
  });
  const toggles = () => doc.querySelectorAll('[data-veil="toggle"]');
  return { doc, form, control, toggleAnchor, toggles };
}

describe('ComposerControl.sync', () => {
  it('places the toggle once and does not look for the compose box while it is there', () => {
    const { control, toggleAnchor, toggles } = setup();
    control.sync();
    expect(toggles()).toHaveLength(1);
    for (let i = 0; i < 5; i++) control.sync();
    expect(toggles()).toHaveLength(1);
    expect(toggleAnchor).toHaveBeenCalledTimes(1);
  });

  it('puts the toggle back after the host re-rendered its compose box', () => {
    const { doc, form, control, toggleAnchor, toggles } = setup();
    control.sync();
    form.remove();
    const again = h(doc, 'form', {}, h(doc, 'textarea', {}));
    doc.body.append(again);
    toggleAnchor.mockReturnValue(asDom<HTMLElement>(again.children[0]));
    control.sync();
    expect(toggles()).toHaveLength(1);
    expect(again.contains(toggles()[0]!)).toBe(true);
    expect(toggleAnchor).toHaveBeenCalledTimes(2);
  });
});
