// Clicking Veil's Send as a user does: after the composer frame settled at its new height (it
// grows when its text needs room, and holds Send meanwhile), not at where Send was a moment ago.
import type { Frame } from 'puppeteer-core';
import { hook } from './options-page';

export async function clickSend(composer: Frame): Promise<void> {
  await composer.waitForSelector('form.composer:not([data-veil-settling])', { timeout: 10_000 });
  await composer.click(hook('compose-send'));
}
