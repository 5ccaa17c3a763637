// CSS selectors for elements the user pointed at ("Teach Veil this site"), made to survive the
// page re-rendering: ids and test hooks the app sets on purpose first, then tag names and class
// names that do not look generated, then position among siblings as a last resort. Pure DOM
// code (content script).

/** Attributes apps set as stable hooks, tried in order. */
const HOOKS = [
  'data-testid',
  'data-test-id',
  'data-qa',
  'data-tid',
  'data-test',
  'role',
  'aria-label',
];
/** Generated-looking names (CSS modules, hashes): long digit runs or a hash after `_`/`-`. */
const GENERATED = /\d{3,}|[_-][a-zA-Z0-9]*\d[a-zA-Z0-9]*$|^[a-z]{1,3}[A-Z0-9][a-zA-Z0-9]{4,}$/;
/** States, not kinds: a message is not `.selected` for long. */
const STATES =
  /^(is-|has-)?(active|selected|focus(ed)?|hover(ed)?|open|visible|hidden|new|unread|highlight(ed)?)$/i;
const MAX_CLASSES = 2;
const MAX_DEPTH = 6;

const escape = (value: string) => CSS.escape(value);

function stableClasses(el: Element): string[] {
  return [...el.classList]
    .filter((c) => c.length <= 40 && !GENERATED.test(c) && !STATES.test(c))
    .slice(0, MAX_CLASSES);
}

function hook(el: Element): string | null {
  for (const name of HOOKS) {
    const value = el.getAttribute(name);
    if (value && value.length <= 60 && !GENERATED.test(value))
      return `[${name}="${value.replace(/["\\]/g, '\\$&')}"]`;
  }
  return null;
}

/** The element on its own: its tag, and a hook or its stable classes. */
export function simpleSelector(el: Element): string {
  const h = hook(el);
  if (h) return `${el.localName}${h}`;
  return (
    el.localName +
    stableClasses(el)
      .map((c) => `.${escape(c)}`)
      .join('')
  );
}

function stableId(el: Element): string | null {
  return el.id && !GENERATED.test(el.id) ? `#${escape(el.id)}` : null;
}

function unique(doc: ParentNode, selector: string, el: Element): boolean {
  try {
    const found = doc.querySelectorAll(selector);
    return found.length === 1 && found[0] === el;
  } catch {
    return false;
  }
}

/** A selector that finds `el` and nothing else in its document. */
export function selectorFor(el: Element): string {
  const doc = el.ownerDocument;
  const id = stableId(el);
  if (id && unique(doc, id, el)) return id;
  let selector = simpleSelector(el);
  let at: Element = el;
  for (let depth = 0; !unique(doc, selector, el) && depth < MAX_DEPTH; depth++) {
    const parent = at.parentElement;
    if (!parent || parent === doc.documentElement) break;
    const parentId = stableId(parent);
    selector = `${parentId ?? simpleSelector(parent)} > ${selector}`;
    at = parent;
    if (parentId && unique(doc, selector, el)) return selector;
  }
  if (unique(doc, selector, el)) return selector;
  // Position as a last resort: it holds while the page keeps its layout.
  const index =
    [...(el.parentElement?.children ?? [])]
      .filter((c) => c.localName === el.localName)
      .indexOf(el) + 1;
  const parent = el.parentElement;
  return parent && parent !== doc.documentElement
    ? `${selectorFor(parent)} > ${el.localName}:nth-of-type(${index})`
    : el.localName;
}

/**
 * A selector for `member` and the elements like it under `list` (every message, not one): the
 * list's own selector, then the path of simple selectors down to the member.
 */
export function membersSelector(list: Element, member: Element): string {
  const path: string[] = [];
  for (let e: Element | null = member; e && e !== list; e = e.parentElement)
    path.unshift(simpleSelector(e));
  return [selectorFor(list), ...path].join(' > ');
}

/** A selector for `inner` within `outer` (`:scope > …`), as `outer.querySelector` takes it. */
export function innerSelector(outer: Element, inner: Element): string {
  const path: string[] = [];
  for (let e: Element | null = inner; e && e !== outer; e = e.parentElement)
    path.unshift(simpleSelector(e));
  return [':scope', ...path].join(' > ');
}
