// A tab's long history as a task: only its own content script's top frame reports it, counts
// only and checked; the list shows it until done; cancelling tells that tab (and no other) to
// drop its backlog; a closed tab's task goes with it.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import type { ToContentMessage } from '../messaging/messages';
import {
  callAs as as,
  contentScriptSender,
  frameSender,
  makeProfile,
  ready,
  ReplyError,
  tabContentScriptSender as contentScript,
} from './testing';

const code = (e: unknown) => (e instanceof ReplyError ? e.code : String(e));

async function setup() {
  const told: [number, number, ToContentMessage][] = [];
  const p = await ready(
    makeProfile({
      tabs: async (tabId, frameId, message) => {
        told.push([tabId, frameId, message]);
        return { dropped: 10 };
      },
    }),
  );
  return { p, told };
}

describe('page-history tasks', () => {
  it('lists a tab’s reported history until it is done', async () => {
    const { p } = await setup();
    await as(p, contentScript(7), { type: 'pageHistory', done: 20, total: 300 });
    expect(p.service.pageHistory.list()).toEqual([
      { id: 'page-history:7', kind: 'page-history', done: 20, total: 300, tabId: 7 },
    ]);
    await as(p, contentScript(7), { type: 'pageHistory', done: 300, total: 300 });
    expect(p.service.pageHistory.list()).toEqual([]);
  });

  it('refuses reports from a subframe, outside a tab, a frame of ours, or with bad counts', async () => {
    const { p } = await setup();
    const sub = { ...contentScript(7), frameId: 3 };
    expect(await as(p, sub, { type: 'pageHistory', done: 1, total: 90 }).catch(code)).toBe(
      'forbidden',
    );
    expect(
      await as(p, contentScriptSender(), { type: 'pageHistory', done: 1, total: 90 }).catch(code),
    ).toBe('forbidden');
    expect(
      await as(p, frameSender('reader', 7), { type: 'pageHistory', done: 1, total: 90 }).catch(
        code,
      ),
    ).toBe('forbidden');
    for (const bad of [
      { done: 91, total: 90 },
      { done: -1, total: 90 },
      { done: 1.5, total: 90 },
      { done: '1', total: 90 },
      { done: 1, total: 1e12 },
    ])
      expect(await as(p, contentScript(7), { type: 'pageHistory', ...bad }).catch(code)).toBe(
        'invalid-argument',
      );
    expect(p.service.pageHistory.list()).toEqual([]);
  });

  it('cancels by telling that tab’s top frame only; unknown ids and closed tabs do nothing', async () => {
    const { p, told } = await setup();
    await as(p, contentScript(7), { type: 'pageHistory', done: 20, total: 300 });
    await as(p, contentScript(8), { type: 'pageHistory', done: 5, total: 90 });
    const tabs = p.service.tabs;
    expect(await p.service.pageHistory.cancel('page-history:9', tabs)).toBe(false);
    expect(await p.service.pageHistory.cancel('indexing:1', tabs)).toBe(false);
    expect(told).toEqual([]);
    // The archive's task messages list it and hand its cancel to the tab.
    const listed = await p.call<{ tasks: { id: string }[] }>({ type: 'tasks' });
    expect(listed.tasks.map((t) => t.id)).toEqual(['page-history:7', 'page-history:8']);
    const after = await p.call<{ tasks: { id: string }[] }>({
      type: 'cancelTask',
      id: 'page-history:7',
    });
    expect(after.tasks.map((t) => t.id)).toEqual(['page-history:8']);
    expect(told).toEqual([[7, 0, { type: 'veil:cancel-history' }]]);
    expect(await p.service.pageHistory.cancel('page-history:7', tabs)).toBe(false);
    expect(p.service.pageHistory.list().map((t) => t.tabId)).toEqual([8]);
    p.service.forgetTab(8);
    expect(p.service.pageHistory.list()).toEqual([]);
  });
});
