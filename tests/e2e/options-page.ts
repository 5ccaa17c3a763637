// Drives Veil's options page in a browser test through its data-veil hooks (DESIGN.md §6 plus the
// page's own): onboarding, contacts, verifying, backup. Works on Chromium and Firefox pages.
import type { Page } from 'puppeteer-core';
import type { Envelope, MessageType, Reply, Request } from '../../extension/messaging/messages';

// Extension pages see the WebExtension API as `chrome` (Chromium) or `browser` (Firefox); only
// used inside page.evaluate.
type RuntimeApi = { runtime: { sendMessage(message: unknown): Promise<unknown> } };
declare const chrome: RuntimeApi;

export const hook = (name: string) => `[data-veil="${name}"]`;

/** Sections of the options page, by the heading that labels them. */
export const SECTION = {
  publish: 'section[aria-labelledby="publish-title"]',
  phrase: 'section[aria-labelledby="phrase-title"]',
  search: 'section[aria-labelledby="search-title"]',
  compare: 'section[aria-labelledby="compare-title"]',
  mark: 'section[aria-labelledby="mark-title"]',
  exportBackup: 'section[aria-labelledby="export-title"]',
  restore: 'section[aria-labelledby="restore-title"]',
  lock: 'section[aria-labelledby="lock-title"]',
  remove: 'section[aria-labelledby="delete-title"]',
  sites: 'section[aria-labelledby="sites-title"]',
} as const;

export interface Notice {
  kind: string;
  text: string;
}

export const onlyDigits = (text: string) => text.replace(/\D/g, '');

export class OptionsPage {
  constructor(
    readonly page: Page,
    /** `chrome-extension://<id>/` or `moz-extension://<uuid>/` */
    readonly origin: string,
  ) {}

  /** Switches screens the way the page's own links do (hash routes). */
  async go(hash: string): Promise<void> {
    await this.page.evaluate((h) => {
      location.hash = h;
    }, hash);
  }

  async reload(): Promise<void> {
    await this.page.reload();
  }

  async waitFor(selector: string, timeout = 20_000) {
    const el = await this.page.waitForSelector(selector, { visible: true, timeout });
    if (!el) throw new Error(`${selector} not found`);
    return el;
  }

  async has(selector: string): Promise<boolean> {
    return (await this.page.$(selector)) !== null;
  }

  /** Sets an input's value and fires `input`, as typing does (the page listens to `input`). */
  async fill(selector: string, value: string): Promise<void> {
    await this.waitFor(selector);
    await this.page.$eval(
      selector,
      (el, v) => {
        const input = el as HTMLInputElement;
        input.focus();
        input.value = v as string;
        input.dispatchEvent(new Event('input', { bubbles: true }));
      },
      value,
    );
  }

  /** Clicks `selector` once it is visible; again if a re-render replaced it mid-click. */
  async click(selector: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const el = await this.page.waitForSelector(selector, { visible: true, timeout: 20_000 });
      try {
        await el!.click();
        return;
      } catch (error) {
        if (attempt >= 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  async text(selector: string): Promise<string> {
    await this.waitFor(selector);
    return this.page.$eval(selector, (el) => el.textContent ?? '');
  }

  /**
   * Waits for the outcome notice inside `scope` and returns it. Call after the action's click;
   * the notice area is emptied when an action starts.
   */
  async notice(scope: string, timeout = 30_000): Promise<Notice> {
    const selector = `${scope} ${hook('notice')}`;
    await this.waitFor(selector, timeout);
    return this.page.$eval(selector, (el) => ({
      kind: el.getAttribute('data-veil-kind') ?? '',
      text: el.textContent ?? '',
    }));
  }

  /** Like notice(), but fails with the page's message unless it is a success. */
  async success(scope: string, timeout?: number): Promise<string> {
    const notice = await this.notice(scope, timeout);
    if (notice.kind !== 'success') throw new Error(`expected success in ${scope}: ${notice.text}`);
    return notice.text;
  }

  /** A raw background request from this extension page (what the page's client sends). */
  async raw<T extends MessageType>(req: Request<T>): Promise<Envelope<Reply<T>>> {
    return this.page.evaluate((message) => {
      const api = (globalThis as { browser?: RuntimeApi }).browser ?? chrome;
      return api.runtime.sendMessage(message);
    }, req as unknown) as Promise<Envelope<Reply<T>>>;
  }

  async request<T extends MessageType>(req: Request<T>): Promise<Reply<T>> {
    const answer = await this.raw(req);
    if (!answer.ok)
      throw new Error(`${req.type} failed: ${answer.error.code} ${answer.error.message}`);
    return answer.value;
  }

  // ---- flows -------------------------------------------------------------------------------

  /**
   * Onboarding: types the handle, sets the directory, creates the identity, publishes it and sets
   * a security phrase. Returns our 30-digit fingerprint half as shown.
   */
  async onboard(handle: string, directoryUrl: string): Promise<string> {
    await this.waitFor(hook('handle'));
    await this.page.type(hook('handle'), handle);
    await this.fill(hook('directory-url'), directoryUrl);
    await this.click(hook('create-identity'));
    return this.finishOnboarding(handle);
  }

  /** The welcome screen after creating: publish, set the security phrase; returns our half. */
  async finishOnboarding(handle: string): Promise<string> {
    await this.waitFor(hook('publish'), 60_000);
    await this.click(hook('publish'));
    await this.success(SECTION.publish);
    await this.fill(hook('security-phrase'), `${handle} likes blue herons`);
    await this.click(hook('save-security-phrase'));
    await this.success(SECTION.phrase);
    return onlyDigits(await this.text(`${hook('identity')} ${hook('fingerprint')}`));
  }

  /** Settings → Sites: turns Veil on for `host` as a user does; resolves when it is listed. */
  async enableSite(host: string): Promise<void> {
    await this.go('#settings');
    await this.fill(hook('site-input'), host);
    await this.click(hook('add-site'));
    await this.success(SECTION.sites);
    await this.waitFor(hook('site-list'));
    const listed = await this.text(hook('site-list'));
    if (!listed.includes(host)) throw new Error(`${host} is not listed in Settings → Sites`);
  }

  contactRow(handle: string): string {
    return `${hook('contact')}[data-veil-handle="${handle}"]`;
  }

  /** Looks `handle` up in the directory and adds it; resolves when the contact is listed. */
  async addContact(handle: string): Promise<void> {
    await this.go('#contacts');
    await this.fill(hook('contact-search'), handle);
    await this.click(hook('contact-search-submit'));
    await this.waitFor(`${hook('lookup-result')}[data-veil-handle="${handle}"]`);
    await this.click(hook('add-contact'));
    await this.waitFor(this.contactRow(handle));
  }

  async contactStatus(handle: string): Promise<string | null> {
    await this.waitFor(this.contactRow(handle));
    return this.page.$eval(this.contactRow(handle), (el) => el.getAttribute('data-veil-status'));
  }

  /** Opens the verify screen for `handle`; returns the safety number's text as shown. */
  async openVerify(handle: string): Promise<string> {
    await this.go(`#verify/${handle}`);
    return this.text(hook('safety-number'));
  }

  /** The data-veil hook of the focused element, and whether it shows a focus outline. */
  async focused(): Promise<{ hook: string | null; outline: string }> {
    return this.page.evaluate(() => {
      const el = document.activeElement;
      return {
        hook: el?.getAttribute('data-veil') ?? null,
        outline: el ? getComputedStyle(el).outlineStyle : 'none',
      };
    });
  }

  async scannable(): Promise<string> {
    await this.waitFor(hook('scannable'));
    return this.page.$eval(hook('scannable'), (el) => (el as HTMLInputElement).value);
  }
}
