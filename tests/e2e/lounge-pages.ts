// The Lounge pages with Veil in them, as browser tests drive them: a person's Lounge page and
// options page, what the host page shows, what Veil's reader frames show (read from inside the
// frames, which the host cannot do), and writing through Veil's composer as a user does.
import type { ElementHandle, Frame, Page } from 'puppeteer-core';
import type { ChromiumSession, FirefoxSession } from './harness';
import { frameOf } from './harness';
import { clickSend } from './composer-send';
import { hook, type OptionsPage } from './options-page';

/** Two windows per profile (options, The Lounge): neither may be throttled as hidden. */
export const UNTHROTTLED = [
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];
export const VIEWPORT = { width: 1000, height: 900 };

const step = (what: string) => {
  if (process.env.VEIL_E2E_STEPS === '1') console.log(`[e2e] step: ${what}`);
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface Person {
  nick: string;
  session: ChromiumSession | FirefoxSession;
  ui: OptionsPage;
  lounge: Page;
}

/** Sends a line from a page as a plain The Lounge user (no Veil): value, `input`, submit. */
export async function plainSend(page: Page, text: string): Promise<void> {
  await page.evaluate((t: string) => {
    const box = document.querySelector<HTMLTextAreaElement>('#form textarea#input')!;
    box.value = t;
    box.dispatchEvent(new Event('input', { bubbles: true }));
    document.querySelector<HTMLElement>('#form #submit')!.click();
  }, text);
}

/** Bodies of `author`'s messages in the open channel, as the host page shows them. */
export function bodiesBy(page: Page, author: string): Promise<string[]> {
  return page.evaluate(
    (who: string) =>
      [...document.querySelectorAll('#chat .chat-view .messages .msg[data-type="message"]')]
        .filter((m) => m.querySelector('.from .user')?.getAttribute('data-name') === who)
        .map((m) => m.querySelector('.content')?.textContent ?? ''),
    author,
  );
}

/** What the host page holds: its DOM, the text it shows. */
export function hostSees(page: Page): Promise<string> {
  return page.evaluate(() => document.documentElement.outerHTML + document.body.innerText);
}

export interface ReaderState {
  status: string | null;
  plaintext: string | null;
  sender: string | null;
  failure: string | null;
  /** The conversation the message says it was written in (its sealed name). */
  conversation: string | null;
  /** The reader holds the text back behind a "show anyway" button. */
  hidden: boolean;
  /** The unknown-sender warning, with the sealing key's fingerprint. */
  unknown: string | null;
}

/** The reader wrappers on a page with what their (mounted) frames show. */
export async function readers(page: Page): Promise<ReaderState[]> {
  const wrappers = await page.$$(hook('message'));
  const out: ReaderState[] = [];
  for (const wrapper of wrappers) {
    const status = await wrapper.evaluate((el) => el.getAttribute('data-veil-status'));
    const state: ReaderState = {
      status,
      plaintext: null,
      sender: null,
      failure: null,
      conversation: null,
      hidden: false,
      unknown: null,
    };
    try {
      const iframe = await wrapper.$('iframe');
      const frame = await iframe?.contentFrame();
      if (frame) {
        const read = (sel: string) =>
          frame.$eval(sel, (el) => el.textContent).catch(() => null) as Promise<string | null>;
        state.plaintext = await read(hook('plaintext'));
        state.sender = await read(hook('sender'));
        state.failure = await read(hook('failure'));
        state.conversation = await read(hook('sealed-conversation'));
        state.unknown = await read(hook('unknown-sender'));
        state.hidden = (await frame.$(hook('reveal'))) !== null;
      }
    } catch {
      // frame not there yet
    }
    out.push(state);
  }
  return out;
}

/** Waits until a reader frame on `page` shows exactly `text`; returns that reader. */
export async function waitForPlaintext(
  page: Page,
  text: string,
  timeout = 45_000,
): Promise<ReaderState> {
  const deadline = Date.now() + timeout;
  const started = Date.now();
  for (;;) {
    const found = (await readers(page)).find((r) => r.plaintext === text);
    if (found) return found;
    step(`waiting for a reader with "${text.slice(0, 20)}"`);
    // Readers load when they come near the screen: after a while, look at those not loaded yet,
    // as a person scrolling to them would (the host may have scrolled its list elsewhere).
    if (Date.now() - started > 10_000)
      await page.$$eval(hook('message'), (els) => {
        const waiting = els.filter((el) => !el.querySelector('iframe'));
        waiting.at(-1)?.scrollIntoView({ block: 'center' });
      });
    if (Date.now() > deadline) {
      const seen = (await readers(page)).map((r) => ({
        ...r,
        plaintext: r.plaintext?.slice(0, 40),
      }));
      throw new Error(`no reader shows "${text.slice(0, 40)}…"; readers: ${JSON.stringify(seen)}`);
    }
    await sleep(200);
  }
}

/** Waits until `page` has at least `count` reader wrappers; returns the new ones' states. */
export async function waitForReaders(
  page: Page,
  count: number,
  settled: (r: ReaderState) => boolean,
  timeout = 45_000,
): Promise<ReaderState[]> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const all = await readers(page);
    if (all.length >= count && all.slice(count - 1).every(settled)) return all;
    if (Date.now() > deadline) {
      const where = await page.$$eval(hook('message'), (els) =>
        els.map((el) => ({
          frame: el.querySelector('iframe')?.src.slice(-12) ?? null,
          top: Math.round(el.getBoundingClientRect().top),
          height: Math.round(el.getBoundingClientRect().height),
          hidden: el.closest('[hidden]') !== null,
        })),
      );
      throw new Error(
        `expected ${count} readers, saw ${JSON.stringify(all)}; wrappers ${JSON.stringify(where)}`,
      );
    }
    await sleep(200);
  }
}

/** The origins of the reader frames on `page` whose own document shows exactly `text`. */
export async function originsShowing(page: Page, text: string): Promise<string[]> {
  const origins: string[] = [];
  for (const iframe of await page.$$(`${hook('message')} iframe`)) {
    const seen = await (
      await iframe.contentFrame()
    )?.evaluate(
      (sel: string) => ({
        origin: location.origin,
        text: document.querySelector(sel)?.textContent ?? null,
      }),
      hook('plaintext'),
    );
    if (seen?.text === text) origins.push(seen.origin);
  }
  return origins;
}

/** Turns Veil on in the open channel (a real click) and returns the composer frame. */
export async function openComposer(person: Person): Promise<Frame> {
  const page = person.lounge;
  if (!(await page.$(`iframe${hook('composer')}`))) {
    await page.waitForSelector(hook('toggle'), { timeout: 30_000 });
    await page.click(hook('toggle'));
  }
  // The content script opens the composer again when the conversation it belongs to changes
  // (the page may settle on its channel just after the click): a frame handle from before that
  // is detached, so look again until a frame shows its recipients.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const composer = await frameOf(page, `iframe${hook('composer')}`);
    try {
      await composer.waitForSelector(hook('recipients'), { timeout: 5_000 });
      await composer.waitForSelector(hook('compose-input'));
      return composer;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      step(`composer not ready (detached: ${composer.detached}); looking again`);
    }
  }
}

/** Sets the composer's recipients to exactly `handles` (adding unknown ones by handle). */
export async function chooseRecipients(composer: Frame, handles: string[]): Promise<void> {
  for (const handle of handles) {
    if (!(await composer.$(`${hook('recipients')} input[value="${handle}"]`))) {
      await composer.type(hook('recipient-input'), handle);
      await composer.click(hook('recipient-add'));
    }
    const box = (await composer.waitForSelector(
      `${hook('recipients')} input[value="${handle}"]`,
    )) as ElementHandle<HTMLInputElement>;
    if (!(await box.evaluate((el) => el.checked))) await box.click();
    await composer.waitForSelector(`${hook('recipients')} input[value="${handle}"]:checked`);
  }
  for (const box of await composer.$$(`${hook('recipients')} input[type="checkbox"]:checked`)) {
    const value = await box.evaluate((el) => (el as HTMLInputElement).value);
    if (!handles.includes(value)) await box.click();
  }
  await composer.waitForFunction(
    (sel: string, want: string[]) =>
      [...document.querySelectorAll<HTMLInputElement>(sel)]
        .map((el) => el.value)
        .sort()
        .join() === [...want].sort().join(),
    {},
    `${hook('recipients')} input[type="checkbox"]:checked`,
    handles,
  );
}

/** Writes `text` in Veil's composer to `recipients` and sends it; waits for the success note. */
export async function veilSend(person: Person, recipients: string[], text: string): Promise<void> {
  step(`${person.nick} opens the composer`);
  const composer = await openComposer(person);
  step(`${person.nick} chooses ${recipients.join(', ')}`);
  await chooseRecipients(composer, recipients);
  step(`${person.nick} types and sends`);
  // Long text: put it in at once, the way a paste does, then type one character for real.
  await composer.$eval(
    hook('compose-input'),
    (el, t) => {
      const input = el as HTMLTextAreaElement;
      input.focus();
      input.value = (t as string).slice(0, -1);
      input.dispatchEvent(new Event('input', { bubbles: true }));
    },
    text,
  );
  await composer.type(hook('compose-input'), text.slice(-1));
  await clickSend(composer);
  await composer.waitForSelector(`${hook('notice')}[data-veil-kind="success"]`, {
    timeout: 60_000,
  });
  // The notice stays until the next send; clear it so the next wait sees a fresh one.
  await composer.$eval(hook('notice'), (el) => el.remove());
}
