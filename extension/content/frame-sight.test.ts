// The page-side check of a frame's sight: the style walk and the sampling, on a page made of
// plain objects (a box, computed styles and what elementFromPoint finds).
import { describe, expect, it } from 'vitest';
import { distortion, frameSight, movesOnly } from './frame-sight';

function style(overrides: Partial<Record<string, string>>): CSSStyleDeclaration {
  return {
    opacity: '1',
    visibility: 'visible',
    filter: 'none',
    mixBlendMode: 'normal',
    clipPath: 'none',
    maskImage: 'none',
    transform: 'none',
    ...overrides,
  } as unknown as CSSStyleDeclaration;
}

describe('styles that fade, hide or distort a frame', () => {
  it('allow moves and enlargements only', () => {
    expect(movesOnly('none')).toBe(true);
    expect(movesOnly('matrix(1, 0, 0, 1, 12, -4)')).toBe(true);
    expect(movesOnly('matrix(1.01, 0, 0, 1.01, 0, 0)')).toBe(true);
    expect(movesOnly('matrix(0.99, 0, 0, 0.99, 0, 0)')).toBe(false);
    expect(movesOnly('matrix(1, 0, 0, 0.5, 0, 0)')).toBe(false);
    expect(movesOnly('matrix(1, 0.1, 0, 1, 0, 0)')).toBe(false);
    // translateZ(0) and 3D moves: only moves. Rotations, scales and perspective are not.
    expect(movesOnly('matrix3d(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1)')).toBe(true);
    expect(movesOnly('matrix3d(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 5, 6, 7, 1)')).toBe(true);
    expect(movesOnly('matrix3d(0.9, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1)')).toBe(false);
    expect(movesOnly('matrix3d(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, -0.01, 0, 0, 0, 1)')).toBe(false);
    expect(movesOnly('rotate(1deg)')).toBe(false);
  });

  it('name what they do', () => {
    expect(distortion(style({}))).toBeNull();
    expect(distortion(style({ opacity: '0.99' }))).toBe('opacity');
    expect(distortion(style({ visibility: 'hidden' }))).toBe('visibility');
    expect(distortion(style({ filter: 'blur(1px)' }))).toBe('filter');
    expect(distortion(style({ mixBlendMode: 'multiply' }))).toBe('mix-blend-mode');
    expect(distortion(style({ clipPath: 'inset(0 0 50% 0)' }))).toBe('clip-path');
    expect(distortion(style({ maskImage: 'linear-gradient(#000, transparent)' }))).toBe('mask');
    expect(distortion(style({ transform: 'matrix(1, 0, 0, -1, 0, 0)' }))).toBe('transform');
  });
});

describe('frameSight', () => {
  /** A frame in a page of 1000 × 800, its ancestors' styles and what is on top at each point. */
  function page(box: { left: number; top: number; width: number; height: number }) {
    const styles = new Map<object, CSSStyleDeclaration>();
    let onTop: (x: number, y: number) => unknown = () => frame;
    const win = {
      innerWidth: 1000,
      innerHeight: 800,
      getComputedStyle: (el: object) => styles.get(el) ?? style({}),
    };
    const doc = {
      defaultView: win,
      visibilityState: 'visible',
      elementFromPoint: (x: number, y: number) => onTop(x, y),
    };
    const body = { parentElement: null, getRootNode: () => doc };
    const frame = {
      isConnected: true,
      ownerDocument: doc,
      parentElement: body,
      getRootNode: () => doc,
      getBoundingClientRect: () => ({
        ...box,
        right: box.left + box.width,
        bottom: box.top + box.height,
      }),
    };
    return {
      frame: frame as unknown as HTMLIFrameElement,
      body,
      styles,
      cover: (f: (x: number, y: number) => unknown) => (onTop = f),
    };
  }

  it('is visible when in view and on top at every sample; obscured when anything covers one', () => {
    const p = page({ left: 10, top: 10, width: 300, height: 200 });
    expect(frameSight(p.frame)).toBe('visible');
    // A small box over the lower right corner is enough.
    const overlay = {};
    p.cover((x, y) => (x > 250 && y > 150 ? overlay : p.frame));
    expect(frameSight(p.frame)).toBe('obscured');
  });

  it('is obscured when an ancestor fades it, partial when cut by the window, away when out', () => {
    const p = page({ left: 10, top: 10, width: 300, height: 200 });
    p.styles.set(p.body, style({ opacity: '0.5' }));
    expect(frameSight(p.frame)).toBe('obscured');
    expect(frameSight(page({ left: 10, top: 700, width: 300, height: 200 }).frame)).toBe('partial');
    expect(frameSight(page({ left: 10, top: 810, width: 300, height: 200 }).frame)).toBe('away');
    const detached = page({ left: 10, top: 10, width: 300, height: 200 });
    (detached.frame as unknown as { isConnected: boolean }).isConnected = false;
    expect(frameSight(detached.frame)).toBe('away');
  });

  it('does not take the body’s overflow (the viewport’s) for a list that cuts the frame', () => {
    const p = page({ left: 10, top: 10, width: 300, height: 200 });
    // A page with `body { overflow: hidden }` and a fixed app root: the body's own box is empty.
    Object.assign(p.body, {
      getBoundingClientRect: () => ({ left: 0, top: 0, right: 1000, bottom: 0 }),
    });
    (p.frame.ownerDocument as unknown as { body: unknown }).body = p.body;
    p.styles.set(p.body, style({ overflowY: 'hidden', overflowX: 'hidden' }));
    expect(frameSight(p.frame)).toBe('visible');
  });

  it('counts a frame cut by a scrolling list as partial, and samples only what the list shows', () => {
    // A list from y 100 to 400 that scrolls; the frame runs from 300 to 500, below its end,
    // where the page's compose box is on top.
    const p = page({ left: 10, top: 300, width: 300, height: 200 });
    const list = { getBoundingClientRect: () => ({ left: 0, top: 100, right: 1000, bottom: 400 }) };
    Object.assign(p.body, list);
    p.styles.set(p.body, style({ overflowY: 'auto', overflowX: 'hidden' }));
    const composeBox = {};
    p.cover((_x, y) => (y >= 400 ? composeBox : p.frame));
    expect(frameSight(p.frame)).toBe('partial');
    // Something of the page's over the part the list shows: covered.
    p.cover((_x, y) => (y >= 380 ? composeBox : p.frame));
    expect(frameSight(p.frame)).toBe('obscured');
    // Scrolled out of the list altogether: away.
    const out = page({ left: 10, top: 420, width: 300, height: 100 });
    Object.assign(out.body, list);
    out.styles.set(out.body, style({ overflowY: 'auto' }));
    expect(frameSight(out.frame)).toBe('away');
  });
});
