// Long work the user sees and can cancel (background only): indexing a large archive, importing
// a backup's archive, decrypting a long page history. Held in memory only: a restarted worker
// has no task running, and work that was cut short resumes from what it had committed.
import { bytesToHex } from '@noble/hashes/utils.js';
import type { TaskProgress } from '../../messaging/archive-messages';
import { BackgroundError } from '../errors';

export interface RunningTask {
  readonly id: string;
  /** Set once the user cancelled: the work stops at its next batch. */
  readonly cancelled: boolean;
  progress(done: number, total?: number): void;
  finish(): void;
}

export class TaskCancelled extends BackgroundError {
  constructor() {
    super('cancelled', 'the task was cancelled');
  }
}

export class Tasks {
  private readonly running = new Map<string, TaskProgress & { cancelled: boolean }>();

  constructor(private readonly randomBytes: (n: number) => Uint8Array) {}

  start(kind: TaskProgress['kind'], total: number, tabId?: number): RunningTask {
    const id = bytesToHex(this.randomBytes(8));
    const task = {
      id,
      kind,
      done: 0,
      total,
      cancelled: false,
      ...(tabId === undefined ? {} : { tabId }),
    };
    this.running.set(id, task);
    const running = this.running;
    return {
      id,
      get cancelled() {
        return task.cancelled;
      },
      progress(done, total) {
        task.done = done;
        if (total !== undefined) task.total = total;
      },
      finish() {
        running.delete(id);
      },
    };
  }

  list(): TaskProgress[] {
    return [...this.running.values()].map(({ cancelled: _c, ...t }) => ({ ...t }));
  }

  /** Asks a task to stop; an unknown id (already finished) is not an error. */
  cancel(id: string): void {
    const task = this.running.get(id);
    if (task) task.cancelled = true;
  }

  size(): number {
    return this.running.size;
  }

  clear(): void {
    for (const t of this.running.values()) t.cancelled = true;
    this.running.clear();
  }
}
