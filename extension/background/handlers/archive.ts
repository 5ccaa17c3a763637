// Handlers of the message archive (background only; extension pages only, checked by the
// router before any of these runs). Each refuses while locked ('locked'), through the archive.
import { archiveOf } from '../archive/archive';
import { PageHistoryTasks } from '../page-history';
import type { ServiceHandlers } from './types';

export const archiveHandlers: ServiceHandlers<
  | 'archiveSearch'
  | 'archiveOverview'
  | 'setRetention'
  | 'archiveDelete'
  | 'archiveExport'
  | 'openArchived'
  | 'tasks'
  | 'cancelTask'
> = {
  archiveSearch: (svc, query) => archiveOf(svc).search(query),

  archiveOverview: (svc) => archiveOf(svc).overview(),

  async setRetention(svc, { conversation, retention }) {
    const archive = archiveOf(svc);
    await archive.setRetention(conversation, retention);
    // A shorter rule applies now, not at the next alarm.
    await archive.applyRetention();
    return archive.overview();
  },

  async archiveDelete(svc, req) {
    const archive = archiveOf(svc);
    const deleted =
      'all' in req
        ? await archive.deleteAll()
        : 'message' in req
          ? await archive.deleteMessage(req.message)
          : await archive.deleteConversation(req.conversation);
    return { ...(await archive.overview()), deleted };
  },

  archiveExport: (svc, { conversation, format }) =>
    archiveOf(svc).exportConversation(conversation, format),

  async openArchived(svc, { id }) {
    return { opened: await archiveOf(svc).open(id) };
  },

  async tasks(svc) {
    return { tasks: [...archiveOf(svc).tasks.list(), ...svc.pageHistory.list()] };
  },

  async cancelTask(svc, { id }) {
    const tasks = archiveOf(svc).tasks;
    // A page's long history is its tab's to stop (page-history.ts); the rest run here.
    if (PageHistoryTasks.owns(id)) await svc.pageHistory.cancel(id, svc.tabs);
    else tasks.cancel(id);
    return { tasks: [...tasks.list(), ...svc.pageHistory.list()] };
  },
};
