// Handlers for the directory's log as the user sees it (background only): the alarms raised by
// the own-handle monitor and the gossip check, a "check now", and the pinned directory key as a
// short fingerprint to compare with the directory's own page.
import type { DirectoryKeyView } from '../../messaging/messages';
import { directoryKeyFingerprint } from '../../protocol/transparency';
import { alarmView } from '../log-alarms';
import type { VeilService } from '../veil-service';
import type { ServiceHandlers } from './types';

async function activeAlarms(svc: VeilService) {
  return { alarms: (await svc.log.alarms.active()).map(alarmView) };
}

export const logHandlers: ServiceHandlers<
  'logAlarms' | 'dismissLogAlarm' | 'checkLog' | 'directoryKey'
> = {
  logAlarms: (svc) => activeAlarms(svc),

  async dismissLogAlarm(svc, { id }) {
    await svc.log.alarms.dismiss(id, svc.now());
    return activeAlarms(svc);
  },

  async checkLog(svc) {
    const result = await svc.log.monitor.run();
    return { result, ...(await activeAlarms(svc)) };
  },

  async directoryKey(svc) {
    const { directoryUrl } = await svc.settings();
    const state = await svc.directory.state(directoryUrl);
    const view: DirectoryKeyView = { url: directoryUrl };
    if (!state) return view;
    view.pinned = {
      origin: state.trust.origin,
      fingerprint: directoryKeyFingerprint(state.trust.origin, state.trust.publicKey),
      pinnedAt: state.pinnedAt,
      treeSize: state.head.treeSize,
    };
    const m = state.monitor;
    if (m?.range || m?.lastFailure)
      view.monitor = {
        treeSize: m.range?.size ?? 0,
        ...(m.checkedAt === undefined ? {} : { checkedAt: m.checkedAt }),
        ...(m.lastFailure ? { failure: m.lastFailure } : {}),
      };
    return view;
  },
};
