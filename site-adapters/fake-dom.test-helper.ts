// A tiny DOM for unit tests in Node (no DOM library is a dependency; real pages are tested in
// Chromium by tests/e2e). Elements, text nodes and a document with what adapters and the page
// session use: tree walking, textContent, attributes, simple selectors (`tag`, `[attr]`,
// `[attr="v"]`, `.class`, compounds of them, and lists), and a settable bounding box.

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;

export interface Box {
  top: number;
  bottom: number;
  left: number;
  right: number;
  width: number;
  height: number;
}

const NO_BOX: Box = { top: 0, bottom: 0, left: 0, right: 0, width: 0, height: 0 };

abstract class FakeNode {
  parentElement: FakeElement | null = null;
  abstract readonly nodeType: number;
  constructor(readonly ownerDocument: FakeDocument) {}

  get parentNode(): FakeElement | null {
    return this.parentElement;
  }

  get isConnected(): boolean {
    let top: FakeNode | null = this.parentElement;
    while (top?.parentElement) top = top.parentElement;
    return (top ?? this) === this.ownerDocument.documentElement;
  }

  abstract get textContent(): string;

  /** DOCUMENT_POSITION_FOLLOWING (4) or PRECEDING (2) of `other`, by tree order (same tree). */
  compareDocumentPosition(other: FakeNode): number {
    const path = (n: FakeNode): number[] => {
      const out: number[] = [];
      for (let c: FakeNode = n; c.parentElement; c = c.parentElement)
        out.unshift(c.parentElement.childNodes.indexOf(c as unknown as FakeChild));
      return out;
    };
    const [a, b] = [path(this), path(other)];
    for (let i = 0; i < Math.min(a.length, b.length); i++)
      if (a[i] !== b[i]) return a[i]! < b[i]! ? 4 : 2;
    return a.length < b.length ? 4 + 16 : a.length > b.length ? 2 + 8 : 0;
  }

  remove(): void {
    const parent = this.parentElement;
    if (!parent) return;
    parent.childNodes.splice(parent.childNodes.indexOf(this as unknown as FakeChild), 1);
    this.parentElement = null;
  }

  after(...nodes: FakeChild[]): void {
    const parent = this.parentElement!;
    let at = parent.childNodes.indexOf(this as unknown as FakeChild) + 1;
    for (const node of nodes) {
      node.remove();
      node.parentElement = parent;
      parent.childNodes.splice(at++, 0, node);
    }
  }
}

export class FakeText extends FakeNode {
  readonly nodeType = TEXT_NODE;
  constructor(
    doc: FakeDocument,
    public data: string,
  ) {
    super(doc);
  }
  get textContent(): string {
    return this.data;
  }
  get nodeValue(): string {
    return this.data;
  }
}

type FakeChild = FakeElement | FakeText;

export class FakeElement extends FakeNode {
  readonly nodeType = ELEMENT_NODE;
  readonly childNodes: FakeChild[] = [];
  readonly attributes = new Map<string, string>();
  readonly style = {
    cssText: '',
    props: new Map<string, string>(),
    setProperty(name: string, value: string) {
      this.props.set(name, value);
    },
    removeProperty(name: string) {
      this.props.delete(name);
    },
  };
  box: Box = NO_BOX;

  constructor(
    doc: FakeDocument,
    readonly localName: string,
  ) {
    super(doc);
  }

  get children(): FakeElement[] {
    return this.childNodes.filter((n): n is FakeElement => n instanceof FakeElement);
  }
  get childElementCount(): number {
    return this.children.length;
  }
  get textContent(): string {
    return this.childNodes.map((n) => n.textContent).join('');
  }
  set textContent(text: string) {
    for (const n of [...this.childNodes]) n.remove();
    this.append(text);
  }

  append(...nodes: (FakeChild | string)[]): void {
    for (const n of nodes) {
      const node = typeof n === 'string' ? new FakeText(this.ownerDocument, n) : n;
      node.remove();
      node.parentElement = this;
      this.childNodes.push(node);
    }
  }

  setAttribute(name: string, value: string): void {
    this.attributes.set(name, value);
  }
  getAttribute(name: string): string | null {
    return this.attributes.get(name) ?? null;
  }
  hasAttribute(name: string): boolean {
    return this.attributes.has(name);
  }
  removeAttribute(name: string): void {
    this.attributes.delete(name);
  }

  contains(node: FakeNode | null): boolean {
    for (let n: FakeNode | null = node; n; n = n.parentElement) if (n === this) return true;
    return false;
  }

  matches(selector: string): boolean {
    return selector.split(',').some((s) => matchesCompound(this, s.trim()));
  }
  closest(selector: string): FakeElement | null {
    if (this.matches(selector)) return this;
    for (let e = this.parentElement; e; e = e.parentElement) if (e.matches(selector)) return e;
    return null;
  }
  querySelectorAll(selector: string): FakeElement[] {
    const out: FakeElement[] = [];
    const walk = (el: FakeElement) => {
      for (const child of el.children) {
        if (selector === '*' || child.matches(selector)) out.push(child);
        walk(child);
      }
    };
    walk(this);
    return out;
  }
  querySelector(selector: string): FakeElement | null {
    return this.querySelectorAll(selector)[0] ?? null;
  }

  readonly listeners: { type: string; listener: (event: unknown) => void }[] = [];
  addEventListener(type: string, listener: (event: unknown) => void): void {
    this.listeners.push({ type, listener });
  }

  getBoundingClientRect(): Box {
    return this.isConnected ? this.box : NO_BOX;
  }
}

/** `tag`, `.class`, `[attr]` and `[attr="value"]`, alone or combined; anything else: no match. */
function matchesCompound(el: FakeElement, compound: string): boolean {
  const parts = compound.match(/^[a-z][a-z0-9-]*|\.[\w-]+|\[[^\]]+\]/gi);
  if (!parts || parts.join('') !== compound) return false;
  return parts.every((part) => {
    if (part.startsWith('.'))
      return (el.getAttribute('class') ?? '').split(/\s+/).includes(part.slice(1));
    if (part.startsWith('[')) {
      const m = /^\[([\w-]+)(?:="([^"]*)")?\]$/.exec(part);
      if (!m) return false;
      const value = el.getAttribute(m[1]!);
      return value !== null && (m[2] === undefined || value === m[2]);
    }
    return el.localName === part.toLowerCase();
  });
}

export class FakeDocument {
  readonly documentElement: FakeElement;
  readonly body: FakeElement;
  readonly defaultView = { innerHeight: 800, getComputedStyle: () => ({ overflowY: 'visible' }) };

  constructor() {
    this.documentElement = new FakeElement(this, 'html');
    this.body = new FakeElement(this, 'body');
    this.documentElement.append(this.body);
  }

  createElement(tag: string): FakeElement {
    return new FakeElement(this, tag);
  }

  readonly listeners: { type: string; listener: (event: unknown) => void }[] = [];
  addEventListener(type: string, listener: (event: unknown) => void): void {
    this.listeners.push({ type, listener });
  }
  removeEventListener(type: string, listener: (event: unknown) => void): void {
    const i = this.listeners.findIndex((l) => l.type === type && l.listener === listener);
    if (i >= 0) this.listeners.splice(i, 1);
  }
  /** Calls the listeners of `type` (as the browser would for an event at the document). */
  fire(type: string): void {
    for (const l of this.listeners.filter((l) => l.type === type)) l.listener({ type });
  }
  querySelector(selector: string): FakeElement | null {
    return this.documentElement.querySelector(selector);
  }
  querySelectorAll(selector: string): FakeElement[] {
    return this.documentElement.querySelectorAll(selector);
  }
}

/** Builds `<tag attr…>children</tag>`: attributes as an object, children as elements or text. */
export function h(
  doc: FakeDocument,
  tag: string,
  attrs: Record<string, string> = {},
  ...children: (FakeElement | string)[]
): FakeElement {
  const el = doc.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

/** The fake seen through the DOM types the code under test is written against. */
export const asDom = <T>(fake: unknown): T => fake as T;
