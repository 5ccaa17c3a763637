// One person for browser tests: a Chromium profile with the built extension, onboarded against
// the key directory (published, security phrase "<handle> likes blue herons") and with Veil
// turned on for `site` in Settings → Sites, as a user does.
import type { Frame, Page } from 'puppeteer-core';
import { frameOf, launchChromium, openExtensionPage, type ChromiumSession } from './harness';
import { hook, OptionsPage } from './options-page';

export interface ChromiumPerson {
  handle: string;
  session: ChromiumSession;
  ui: OptionsPage;
}

export async function onboardInChromium(
  handle: string,
  {
    extensionDir,
    directoryUrl,
    site,
  }: { extensionDir: string; directoryUrl: string; site: string },
): Promise<ChromiumPerson> {
  const session = await launchChromium({ extensionDir });
  try {
    const page = await openExtensionPage(session.browser, session.extensionId, 'options.html');
    const ui = new OptionsPage(page, session.origin);
    await ui.onboard(handle, directoryUrl);
    await ui.enableSite(site);
    return { handle, session, ui };
  } catch (e) {
    await session.close();
    throw e;
  }
}

/** Opens Veil's composer on a chat page with `recipient` ticked; returns its frame. */
export async function openComposerTo(page: Page, recipient: string): Promise<Frame> {
  await page.click(hook('toggle'));
  const composer = await frameOf(page, `iframe${hook('composer')}`);
  await composer.waitForSelector(hook('recipients'));
  const ticked = `${hook('recipients')} input[value="${recipient}"]:checked`;
  if (!(await composer.$(ticked))) {
    await composer.type(hook('recipient-input'), recipient);
    await composer.click(hook('recipient-add'));
    await composer.waitForSelector(ticked);
  }
  return composer;
}

/**
 * The people of one test file: each onboarded in their own Chromium profile for the site that
 * `where` names when they join (servers start in `beforeAll`); `close` ends every profile.
 */
export function castOf<P extends ChromiumPerson>(
  where: () => { extensionDir: string; directoryUrl: string; site: string },
) {
  const people: P[] = [];
  return {
    people,
    async onboard(handle: string): Promise<P> {
      const person = (await onboardInChromium(handle, where())) as P;
      people.push(person);
      return person;
    },
    find: (handle: string): P | undefined => people.find((p) => p.handle === handle),
    async close(): Promise<void> {
      for (const p of people) await p.session.close();
    },
  };
}

/**
 * The toolbar popup about the tab that shows `url` (query ignored), opened as a page
 * (`popup.html?tab=<id>`: a popup opened as a page is itself the active tab).
 */
export async function openPopupFor(person: ChromiumPerson, url: string): Promise<Page> {
  const tabId = await person.ui.page.evaluate(async (u: string) => {
    const api = (
      globalThis as unknown as {
        chrome: { tabs: { query(q: { url: string }): Promise<{ id?: number }[]> } };
      }
    ).chrome;
    const [tab] = await api.tabs.query({ url: u.replace(/\?.*$/, '*') });
    return tab!.id!;
  }, url);
  const { browser, extensionId } = person.session;
  return openExtensionPage(browser, extensionId, `popup.html?tab=${tabId}`);
}
