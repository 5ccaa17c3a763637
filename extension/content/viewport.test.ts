// Distance from what the user sees: the viewport band the message list covers, boxes above,
// inside and below it, and boxes that are not rendered.
import { describe, expect, it } from 'vitest';
import { distanceToBand, visibleBand, viewportDistance } from './viewport';

const box = (top: number, bottom: number, width = 100) => ({
  top,
  bottom,
  width,
  height: bottom - top,
});

describe('visibleBand', () => {
  it('is the window clipped to the list', () => {
    expect(visibleBand(800, box(100, 700))).toEqual({ top: 100, bottom: 700 });
    // A long list scrolled with the document: the whole window.
    expect(visibleBand(800, box(-5000, 20000))).toEqual({ top: 0, bottom: 800 });
  });

  it('is the whole window when the list is off screen, empty or unknown', () => {
    expect(visibleBand(800, box(900, 1500))).toEqual({ top: 0, bottom: 800 });
    expect(visibleBand(800, box(0, 0, 0))).toEqual({ top: 0, bottom: 800 });
    expect(visibleBand(800, null)).toEqual({ top: 0, bottom: 800 });
  });
});

describe('distanceToBand', () => {
  const band = { top: 100, bottom: 700 };
  it('is 0 on screen, else the gap to the band', () => {
    expect(distanceToBand(box(650, 750), band)).toBe(0);
    expect(distanceToBand(box(50, 120), band)).toBe(0);
    expect(distanceToBand(box(-300, 40), band)).toBe(60);
    expect(distanceToBand(box(900, 950), band)).toBe(200);
  });

  it('is Infinity for a box that is not rendered', () => {
    expect(distanceToBand(box(0, 0, 0), band)).toBe(Infinity);
  });
});

describe('viewportDistance', () => {
  it('measures elements against the band of the list, read once', () => {
    let listReads = 0;
    const list = {
      ownerDocument: { defaultView: { innerHeight: 800 } },
      getBoundingClientRect: () => (listReads++, box(200, 600)),
    } as unknown as Element;
    const el = (top: number) => ({ getBoundingClientRect: () => box(top, top + 20) }) as Element;
    const distance = viewportDistance(list);
    expect([distance(el(300)), distance(el(100)), distance(el(650))]).toEqual([0, 80, 50]);
    expect(listReads).toBe(1);
  });
});
