// When the log watch runs (background only): at worker start, at most every 10 minutes (MV3
// stops idle workers, so starts are frequent), and hourly through browser.alarms, so a profile
// that is open but idle still notices an entry it did not make; each pass also looks after our
// prekeys on the directory (key-upkeep.ts). The background entry point only
// calls `startLogWatch`; everything here takes its browser API as an argument.
import { startAlarmJob } from './alarm-job';
import { upkeepKeys } from './key-upkeep';
import type { VeilService } from './veil-service';

export const LOG_WATCH_ALARM = 'veil-log-watch';
export const LOG_WATCH_PERIOD_MINUTES = 60;
/** A worker start runs a monitor pass only if the last one began longer ago than this. */
export const START_PASS_INTERVAL_MS = 10 * 60_000;

/** The part of `browser.alarms` used here. */
export interface AlarmsApi {
  get(name: string): Promise<unknown>;
  create(name: string, info: { periodInMinutes: number; delayInMinutes: number }): unknown;
  onAlarm: { addListener(callback: (alarm: { name: string }) => void): void };
}

/**
 * One watch: the own-handle monitor (always, or only when due), then the heads contacts sent
 * that could not be checked before. Inside the service's gate (shared), so a restore or a
 * delete-everything never interleaves with its writes.
 */
export async function watchLog(svc: VeilService, always: boolean): Promise<void> {
  // Locked: what the watch reads (the directory's pinned key and head) is sealed. The next
  // start or alarm after unlocking runs it.
  if ((await svc.lock.state()).locked) return;
  await svc.gate.shared(async () => {
    const ran = always
      ? await svc.log.monitor.run()
      : await svc.log.monitor.runIfDue(START_PASS_INTERVAL_MS);
    const { directoryUrl } = await svc.settings();
    await svc.log.gossip.retryPending(directoryUrl);
    // Our prekeys are looked after on the same beat (not on every worker start).
    if (ran || always) await upkeepKeys(svc);
  });
}

/**
 * Registers the hourly alarm's listener (synchronously, so an alarm that wakes the worker finds
 * it), creates the alarm if it does not exist yet, and runs a watch now if one is due.
 */
export function startLogWatch(
  getService: () => Promise<VeilService>,
  alarms: AlarmsApi,
  report: (error: unknown) => void,
): void {
  const run = (always: boolean) => getService().then((svc) => watchLog(svc, always));
  startAlarmJob(
    alarms,
    LOG_WATCH_ALARM,
    LOG_WATCH_PERIOD_MINUTES,
    { onAlarm: () => run(true), atStart: () => run(false) },
    report,
  );
}
