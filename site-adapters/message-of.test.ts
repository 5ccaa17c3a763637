// messageOf: the message a changed node belongs to, so a page change is looked at message by
// message (DOM from fake-dom.test-helper.ts; real pages: tests/e2e/adapters-fixtures.test.ts).
import { describe, expect, it } from 'vitest';
import { asDom, FakeDocument, h, type FakeElement } from './fake-dom.test-helper';
import { generic } from './generic';
import { theLounge } from './thelounge';

const list = (el: FakeElement) => asDom<HTMLElement>(el);
const node = (n: unknown) => asDom<Node>(n);

describe('messageOf (declarative adapters: The Lounge)', () => {
  const doc = new FakeDocument();
  const body = h(doc, 'span', { class: 'content' }, 'VeiLA hello');
  const msg = h(doc, 'div', { class: 'msg', 'data-type': 'message' }, body);
  const join = h(doc, 'div', { class: 'msg', 'data-type': 'join' }, 'bob joined');
  const messages = h(doc, 'div', { class: 'messages' }, msg, join);
  const outer = h(doc, 'div', { class: 'msg', 'data-type': 'message' }, messages);
  const elsewhere = h(doc, 'div', {}, 'sidebar');
  doc.body.append(outer, elsewhere);

  it('finds the message holding a text node or element, or the message itself', () => {
    expect(theLounge.messageOf(list(messages), node(body.childNodes[0]))).toBe(msg);
    expect(theLounge.messageOf(list(messages), node(body))).toBe(msg);
    expect(theLounge.messageOf(list(messages), node(msg))).toBe(msg);
  });

  it('is null between messages, outside the list, and for a match around the list', () => {
    expect(theLounge.messageOf(list(messages), node(join))).toBeNull();
    expect(theLounge.messageOf(list(messages), node(messages))).toBeNull();
    expect(theLounge.messageOf(list(messages), node(elsewhere))).toBeNull();
  });
});

describe('messageOf (generic adapter)', () => {
  it('finds a data-veil-message ancestor', () => {
    const doc = new FakeDocument();
    const text = h(doc, 'span', { 'data-veil-body': '' }, 'hi');
    const msg = h(doc, 'li', { 'data-veil-message': '' }, h(doc, 'b', {}, 'ann'), text);
    const divider = h(doc, 'li', {}, 'Today');
    const log = h(doc, 'ul', { 'data-veil-messages': '' }, msg, divider);
    doc.body.append(log);
    expect(generic.messageOf(list(log), node(text.childNodes[0]))).toBe(msg);
    expect(generic.messageOf(list(log), node(divider))).toBeNull();
    expect(generic.messageOf(list(log), node(log))).toBeNull();
  });

  it('finds the member of the group the heuristic chose, once it chose one', () => {
    const doc = new FakeDocument();
    const rows = ['first line of chat', 'second line of chat', 'third line of chat'].map((t) =>
      h(doc, 'div', { class: 'row' }, h(doc, 'span', {}, t)),
    );
    const note = h(doc, 'p', {}, 'a note between the rows');
    const pane = h(doc, 'section', {}, ...rows, note);
    const compose = h(doc, 'textarea', { 'data-veil-compose': '' });
    doc.body.append(pane, compose);
    const inside = rows[1]!.children[0]!.childNodes[0];
    // No group chosen yet for this list: it cannot tell.
    expect(generic.messageOf(list(pane), node(inside))).toBeNull();
    expect(generic.messages(list(pane))).toEqual(rows);
    expect(generic.messageOf(list(pane), node(inside))).toBe(rows[1]);
    expect(generic.messageOf(list(pane), node(rows[2]))).toBe(rows[2]);
    expect(generic.messageOf(list(pane), node(note))).toBeNull();
  });
});
