// When retention runs (background only), and the index folds in a long log tail: at every
// worker start and once a day through
// browser.alarms, inside the service's gate (shared), so a restore or delete-everything never
// interleaves with it. Locked: skipped (the next start or alarm after unlocking runs it).
import { startAlarmJob } from '../alarm-job';
import type { AlarmsApi } from '../log-schedule';
import type { VeilService } from '../veil-service';
import { archiveOf } from './archive';
import { RETENTION_ALARM, RETENTION_PERIOD_MINUTES } from './retention';

export async function runRetention(svc: VeilService): Promise<number> {
  if ((await svc.lock.state()).locked) return 0;
  return svc.gate.shared(async () => {
    const archive = archiveOf(svc);
    const deleted = await archive.applyRetention();
    // The same beat folds a long log tail into the index (docs/archive.md, "Search").
    await archive.foldTail();
    return deleted;
  });
}

export function startArchiveRetention(
  getService: () => Promise<VeilService>,
  alarms: AlarmsApi,
  report: (error: unknown) => void,
): void {
  const run = () => getService().then((svc) => runRetention(svc));
  startAlarmJob(
    alarms,
    RETENTION_ALARM,
    RETENTION_PERIOD_MINUTES,
    { onAlarm: run, atStart: run },
    report,
  );
}
