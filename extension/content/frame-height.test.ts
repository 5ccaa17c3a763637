// Height quantisation: the host learns frame heights only in whole line buckets, within bounds.
import { describe, expect, it } from 'vitest';
import {
  HEIGHT_BUCKET_PX,
  MAX_FRAME_HEIGHT_PX,
  MIN_FRAME_HEIGHT_PX,
  quantiseHeight,
} from './frame-height';

describe('quantiseHeight', () => {
  it('rounds up to whole buckets', () => {
    expect(quantiseHeight(MIN_FRAME_HEIGHT_PX + 1)).toBe(MIN_FRAME_HEIGHT_PX + HEIGHT_BUCKET_PX);
    expect(quantiseHeight(5 * HEIGHT_BUCKET_PX)).toBe(5 * HEIGHT_BUCKET_PX);
    for (let h = 0; h < 2000; h += 7) expect(quantiseHeight(h) % HEIGHT_BUCKET_PX).toBe(0);
  });

  it('maps every height within a bucket to the same value', () => {
    const a = quantiseHeight(3 * HEIGHT_BUCKET_PX + 1);
    const b = quantiseHeight(4 * HEIGHT_BUCKET_PX);
    expect(a).toBe(b);
  });

  it('clamps to the bounds and treats nonsense as the minimum', () => {
    expect(quantiseHeight(0)).toBe(MIN_FRAME_HEIGHT_PX);
    expect(quantiseHeight(-50)).toBe(MIN_FRAME_HEIGHT_PX);
    expect(quantiseHeight(Number.NaN)).toBe(MIN_FRAME_HEIGHT_PX);
    expect(quantiseHeight(Infinity)).toBe(MIN_FRAME_HEIGHT_PX);
    expect(quantiseHeight(1e6)).toBe(MAX_FRAME_HEIGHT_PX);
  });
});
