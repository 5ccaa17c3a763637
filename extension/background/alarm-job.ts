// A background job on a browser alarm: the listener registered synchronously (so an alarm that
// wakes the worker finds it), the alarm created only when missing (creating one that exists
// would restart its period on every worker start), and one run at worker start.
import type { AlarmsApi } from './log-schedule';

export function startAlarmJob(
  alarms: AlarmsApi,
  name: string,
  periodInMinutes: number,
  job: { onAlarm: () => Promise<unknown>; atStart: () => Promise<unknown> },
  report: (error: unknown) => void,
): void {
  alarms.onAlarm.addListener((alarm) => {
    if (alarm.name === name) void job.onAlarm().catch(report);
  });
  void (async () => {
    if (!(await alarms.get(name)))
      await alarms.create(name, { periodInMinutes, delayInMinutes: periodInMinutes });
  })().catch(report);
  void job.atStart().catch(report);
}
