// Token buckets in memory, per key (an IP or a handle). Bounded: the least recently used keys
// are forgotten first, so a flood of distinct keys cannot exhaust memory.
export interface Rate {
  /** Requests allowed at once. */
  burst: number;
  /** Sustained requests per minute. */
  perMinute: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly rate: Rate,
    private readonly maxKeys = 100_000,
  ) {}

  private bucket(key: string, now: number): Bucket {
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key);
      b.tokens = Math.min(
        this.rate.burst,
        b.tokens + ((now - b.at) / 60_000) * this.rate.perMinute,
      );
      b.at = now;
    } else {
      b = { tokens: this.rate.burst, at: now };
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(key, b);
    return b;
  }

  /** Seconds to wait before the next request is allowed; 0 means allowed now. */
  private wait(b: Bucket): number {
    return b.tokens >= 1 ? 0 : Math.max(1, Math.ceil(((1 - b.tokens) * 60) / this.rate.perMinute));
  }

  /** Takes a token; returns 0, or the Retry-After seconds if none is left. */
  take(key: string, now: number): number {
    const b = this.bucket(key, now);
    const wait = this.wait(b);
    if (wait === 0) b.tokens -= 1;
    return wait;
  }

  /** Like take, without spending a token. */
  peek(key: string, now: number): number {
    return this.wait(this.bucket(key, now));
  }
}
