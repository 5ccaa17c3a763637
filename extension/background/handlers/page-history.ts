// A tab's long history, as its content script counts it (background): counts only, from the
// tab's top frame, kept per tab until done or cancelled (page-history.ts).
import { BackgroundError } from '../errors';
import type { ServiceHandlers } from './types';

export const pageHistoryHandlers: ServiceHandlers<'pageHistory'> = {
  async pageHistory(svc, { done, total }, ctx) {
    if (ctx.tabId === undefined || ctx.tabId < 0 || ctx.frameId !== 0)
      throw new BackgroundError('forbidden', 'only a tab’s page may send this');
    svc.pageHistory.report(ctx.tabId, done, total);
    return { ok: true };
  },
};
