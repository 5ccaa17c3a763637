// Long histories being decrypted, one per tab (background, memory only): what each tab's content
// script last reported (counts only), listed as 'page-history' tasks beside the archive's own,
// and cancelled by asking that tab's content script to drop its backlog.
import type { TaskProgress } from '../messaging/archive-messages';
import type { TabMessenger } from './veil-service';

const PREFIX = 'page-history:';

export class PageHistoryTasks {
  /** tabId → [done, total]. A Map so the memory report can count and clear it. */
  readonly byTab = new Map<number, [number, number]>();

  /** A report from the tab's top frame; done = total (or 0 of 0) closes its task. */
  report(tabId: number, done: number, total: number): void {
    if (total === 0 || done >= total) this.byTab.delete(tabId);
    else this.byTab.set(tabId, [done, total]);
  }

  list(): TaskProgress[] {
    return [...this.byTab].map(([tabId, [done, total]]) => ({
      id: `${PREFIX}${tabId}`,
      kind: 'page-history',
      done,
      total,
      tabId,
    }));
  }

  /** Whether `id` names a page-history task (the archive's cancelTask hands those here). */
  static owns(id: string): boolean {
    return id.startsWith(PREFIX);
  }

  /**
   * Cancels the task `id`: its tab's content script drops what is still waiting. The task is
   * gone from the list at once; a tab that no longer answers (closed, navigated) loses nothing.
   */
  async cancel(id: string, tabs: TabMessenger): Promise<boolean> {
    if (!PageHistoryTasks.owns(id)) return false;
    const tabId = Number(id.slice(PREFIX.length));
    if (!this.byTab.has(tabId)) return false;
    this.byTab.delete(tabId);
    await tabs(tabId, 0, { type: 'veil:cancel-history' }).catch(() => undefined);
    return true;
  }

  forget(tabId: number): void {
    this.byTab.delete(tabId);
  }
}
