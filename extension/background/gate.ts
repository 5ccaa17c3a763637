// A first-come, first-served reader/writer gate for the background's handlers (background only).
// Ordinary handlers run side by side (Veil itself serialises the protocol operations); handlers
// that rewrite whole tables (lock changes, restore, delete everything) run alone, so no other
// handler reads half of the old state and writes into the new one.
export class Gate {
  private readers = 0;
  private writer = false;
  private readonly waiting: { exclusive: boolean; wake: () => void }[] = [];

  shared<T>(fn: () => Promise<T>): Promise<T> {
    return this.run(false, fn);
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.run(true, fn);
  }

  private async run<T>(exclusive: boolean, fn: () => Promise<T>): Promise<T> {
    await this.acquire(exclusive);
    try {
      return await fn();
    } finally {
      if (exclusive) this.writer = false;
      else this.readers--;
      this.drain();
    }
  }

  private canRun(exclusive: boolean): boolean {
    return exclusive ? !this.writer && this.readers === 0 : !this.writer;
  }

  private take(exclusive: boolean): void {
    if (exclusive) this.writer = true;
    else this.readers++;
  }

  private acquire(exclusive: boolean): Promise<void> {
    if (this.waiting.length === 0 && this.canRun(exclusive)) {
      this.take(exclusive);
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.waiting.push({
        exclusive,
        wake: () => {
          this.take(exclusive);
          resolve();
        },
      }),
    );
  }

  private drain(): void {
    while (this.waiting.length > 0 && this.canRun(this.waiting[0]!.exclusive))
      this.waiting.shift()!.wake();
  }
}
