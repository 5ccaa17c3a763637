// The background's handler table (background only): one entry per message type, each run
// through the service's gate: side by side normally, alone when it rewrites whole tables.
import type { MessageType } from '../../messaging/messages';
import type { Handler, HandlerTable } from '../router';
import { afterHandler } from '../sync-schedule';
import type { VeilService } from '../veil-service';
import { archiveHandlers } from './archive';
import { backupHandlers } from './backup';
import { contactHandlers } from './contacts';
import { conversationHandlers } from './conversation';
import { deviceHandlers } from './devices';
import { identityHandlers } from './identity';
import { lockHandlers } from './lock';
import { logHandlers } from './log';
import { pageHandlers } from './page';
import { pageHistoryHandlers } from './page-history';
import { settingsHandlers } from './settings';
import { siteHandlers } from './sites';
import type { ServiceHandler } from './types';

/** Handlers that must not overlap any other (they replace or re-seal what others read). */
export const EXCLUSIVE: ReadonlySet<MessageType> = new Set<MessageType>([
  'setLockPassphrase',
  'lock',
  'importBackup',
  'removeContact',
  'deleteEverything',
  'joinStatus',
]);

type ServiceTable = { [T in Exclude<MessageType, 'ping'>]: ServiceHandler<T> };

export const SERVICE_HANDLERS: ServiceTable = {
  ...identityHandlers,
  ...contactHandlers,
  ...backupHandlers,
  ...settingsHandlers,
  ...siteHandlers,
  ...lockHandlers,
  ...conversationHandlers,
  ...pageHandlers,
  ...pageHistoryHandlers,
  ...logHandlers,
  ...deviceHandlers,
  ...archiveHandlers,
};

/**
 * The router's table. `ping` answers without touching the store; everything else gets the
 * worker's service lazily (a restarted worker reopens IndexedDB on its first message).
 */
export function createHandlers(
  getService: () => Promise<VeilService>,
  version: string,
): HandlerTable {
  const table = { ping: async () => ({ ok: true as const, version }) } as Partial<HandlerTable>;
  for (const type of Object.keys(SERVICE_HANDLERS) as Exclude<MessageType, 'ping'>[]) {
    const handler = SERVICE_HANDLERS[type] as ServiceHandler<typeof type>;
    const wrapped: Handler<typeof type> = async (req, ctx) => {
      const svc = await getService();
      const run = () => handler(svc, req, ctx);
      const value = await (EXCLUSIVE.has(type) ? svc.gate.exclusive(run) : svc.gate.shared(run));
      // Device sync follows edits of what syncs, and the popup or options opening.
      if (ctx.sender === 'extension-page') afterHandler(svc, type);
      return value;
    };
    (table as Record<string, unknown>)[type] = wrapped;
  }
  return table as HandlerTable;
}
