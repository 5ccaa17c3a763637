import { describe, expect, it } from 'vitest';
import { sightOf, WHOLE_RATIO } from './sight';

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
