// When device sync runs (background only; device-sync.ts does a pass): at worker start, every
// few minutes through browser.alarms, shortly after a local edit to what syncs, and when the
// popup or options page opens. Takes its browser API as an argument.
import type { MessageType } from '../messaging/messages';
import { scheduleSync, syncNow, syncOnOpen } from './device-sync';
import { startAlarmJob } from './alarm-job';
import type { AlarmsApi } from './log-schedule';
import type { VeilService } from './veil-service';

export const SYNC_ALARM = 'veil-device-sync';
export const SYNC_PERIOD_MINUTES = 5;

/** Handlers whose success changes something that syncs: a pass follows shortly. */
const EDITS: ReadonlySet<MessageType> = new Set<MessageType>([
  'addContact',
  'markVerified',
  'acknowledgeKeyChange',
  'removeContact',
  'setSettings',
  'importSiteProfile',
  'deleteSiteProfile',
  'saveSiteProfile',
  'joinStatus',
]);
/** What the popup and options ask first when they open. */
const OPENS: ReadonlySet<MessageType> = new Set<MessageType>(['status', 'listDevices']);

/** After a handler of `type` succeeded: schedules a pass when it edited or opened something. */
export function afterHandler(svc: VeilService, type: MessageType): void {
  if (EDITS.has(type)) scheduleSync(svc);
  else if (OPENS.has(type)) syncOnOpen(svc);
}

/** Registers the alarm's listener (synchronously), creates the alarm, and runs a pass now. */
export function startDeviceSync(
  getService: () => Promise<VeilService>,
  alarms: AlarmsApi,
  report: (error: unknown) => void,
): void {
  const run = () => getService().then((svc) => syncNow(svc));
  startAlarmJob(alarms, SYNC_ALARM, SYNC_PERIOD_MINUTES, { onAlarm: run, atStart: run }, report);
}
