import { describe, expect, it, vi } from 'vitest';
import { pollHostSight, sightOf, WHOLE_RATIO, type Sight } from './sight';

describe('a frame’s sight from IntersectionObserver v2', () => {
  it('is visible only when all in view and drawn as Veil drew it', () => {
    expect(sightOf({ isIntersecting: true, intersectionRatio: 1, isVisible: true })).toBe(
      'visible',
    );
    expect(sightOf({ isIntersecting: true, intersectionRatio: WHOLE_RATIO, isVisible: true })).toBe(
      'visible',
    );
    expect(sightOf({ isIntersecting: true, intersectionRatio: 0.6, isVisible: true })).toBe(
      'partial',
    );
    // Covered, faded or transformed: the observer says not visible although it intersects.
    expect(sightOf({ isIntersecting: true, intersectionRatio: 1, isVisible: false })).toBe(
      'obscured',
    );
    expect(sightOf({ isIntersecting: false, intersectionRatio: 0, isVisible: false })).toBe('away');
    // Partly clipped (v2 counts what lies where the clipped part would be): partial, not covered.
    expect(sightOf({ isIntersecting: true, intersectionRatio: 0.7, isVisible: false })).toBe(
      'partial',
    );
  });

  it('says unsupported where the browser reports no isVisible (Firefox)', () => {
    expect(sightOf({ isIntersecting: true, intersectionRatio: 1 })).toBe('unsupported');
  });
});

describe('a frame’s sight asked of its content script (Firefox)', () => {
  it('asks at once, then every interval, one question at a time, until stopped', async () => {
    vi.useFakeTimers();
    try {
      const listeners = new Map<string, () => void>();
      const target = {
        ownerDocument: {
          addEventListener: (type: string, l: () => void) => listeners.set(type, l),
          removeEventListener: (type: string) => listeners.delete(type),
        },
      } as unknown as Element;
      const answers: Sight[] = ['visible', 'obscured', 'visible'];
      const ask = vi.fn(async () => answers.shift() ?? 'visible');
      const seen: Sight[] = [];
      const stop = pollHostSight(target, ask, (s) => seen.push(s), 1000);
      await vi.advanceTimersByTimeAsync(0);
      expect(seen).toEqual(['visible']);
      await vi.advanceTimersByTimeAsync(1000);
      expect(seen).toEqual(['visible', 'obscured']);
      // The pointer coming to the frame asks again at once.
      listeners.get('pointerenter')?.();
      await vi.advanceTimersByTimeAsync(0);
      expect(seen).toEqual(['visible', 'obscured', 'visible']);
      stop();
      await vi.advanceTimersByTimeAsync(5000);
      expect(ask).toHaveBeenCalledTimes(3);
      expect(listeners.size).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
