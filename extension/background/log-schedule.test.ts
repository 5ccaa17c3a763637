// When the log watch runs: a worker start runs a monitor pass unless one began in the last ten
// minutes, the hourly alarm is created once (not restarted by every worker start) and its
// firing runs a pass; errors go to the reporter, never out of the worker.
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  LOG_WATCH_ALARM,
  START_PASS_INTERVAL_MS,
  startLogWatch,
  type AlarmsApi,
} from './log-schedule';
import { makeProfile, ready, startDirectory, type RunningDirectory } from './testing';

type Created = Map<string, { periodInMinutes: number; delayInMinutes: number }>;

/** browser.alarms of one worker instance; `created` outlives the worker, as alarms do. */
function fakeAlarms(created: Created = new Map()) {
  const listeners: ((alarm: { name: string }) => void)[] = [];
  const api: AlarmsApi = {
    get: async (name) => created.get(name),
    create: (name, info) => void created.set(name, info),
    onAlarm: { addListener: (cb) => void listeners.push(cb) },
  };
  return { api, created, fire: (name: string) => listeners.forEach((cb) => cb({ name })) };
}

let dir: RunningDirectory;
beforeAll(async () => {
  // The profile's clock moves on by minutes below: its signed requests (prekey upkeep) stay
  // within the directory's window.
  dir = await startDirectory(undefined, { clockSkewSeconds: 3600 });
});
afterAll(() => dir.close());

describe('startLogWatch', () => {
  it('runs at start when due, hourly on the alarm, and creates the alarm once', async () => {
    let now = Date.now();
    const p = await ready(makeProfile({ now: () => now }));
    await p.call({ type: 'createIdentity', handle: 'sched', directoryUrl: dir.url });
    await p.call({ type: 'publish' });
    const svc = p.service;
    const run = vi.spyOn(svc.log.monitor, 'run');
    const alarms = fakeAlarms();
    const report = vi.fn();

    startLogWatch(async () => svc, alarms.api, report);
    await vi.waitFor(() => expect(run).toHaveBeenCalledTimes(1));
    await vi.waitFor(() => expect(alarms.created.get(LOG_WATCH_ALARM)?.periodInMinutes).toBe(60));
    await run.mock.results[0]!.value;

    // The worker restarts a minute later: not due, and the alarm is left as it is.
    now += 60_000;
    alarms.created.set(LOG_WATCH_ALARM, { periodInMinutes: 60, delayInMinutes: 17 });
    const second = fakeAlarms(alarms.created);
    startLogWatch(async () => svc, second.api, report);
    await new Promise((r) => setTimeout(r, 500));
    expect(run).toHaveBeenCalledTimes(1);
    expect(alarms.created.get(LOG_WATCH_ALARM)?.delayInMinutes).toBe(17);

    // The hourly alarm runs a pass whatever the time; so does a start once it is due again.
    second.fire(LOG_WATCH_ALARM);
    await vi.waitFor(() => expect(run).toHaveBeenCalledTimes(2));
    second.fire('someone-elses-alarm');
    now += START_PASS_INTERVAL_MS + 1;
    startLogWatch(async () => svc, fakeAlarms(alarms.created).api, report);
    await vi.waitFor(() => expect(run).toHaveBeenCalledTimes(3));
    expect(report).not.toHaveBeenCalled();
  });

  it('reports a failure instead of throwing', async () => {
    const report = vi.fn();
    startLogWatch(() => Promise.reject(new Error('no service')), fakeAlarms().api, report);
    await vi.waitFor(() => expect(report).toHaveBeenCalled());
  });
});
