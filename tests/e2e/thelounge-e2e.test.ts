// Veil end to end on a real chat app: ngircd + The Lounge on 127.0.0.1, a real key directory,
// Chromium profiles with the built extension (alice, bob, dave) and one without it (carol), all
// in #veil. A recording TCP proxy sits between The Lounge and ngircd, so the test can show that
// only ciphertext ever crossed the IRC connection. One Firefox ESR profile (erin, the Firefox
// build) sends to bob and reads bob's messages in its own reader frames.
// Everything is started here and stopped by PID in afterAll; the steps build on each other.
import net from 'node:net';
import type { Browser, ElementHandle, Frame, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dearmor } from '../../extension/protocol/armor';
import { decodeEnvelope } from '../../extension/protocol/envelope';
import { freePort } from '../server-process';
import { launchPlainChromium } from './adapter-bundle';
import { startDirectory, type DirectoryServer } from './directory-server';
import {
  chromiumPath,
  firefoxPath,
  launchChromium,
  launchFirefox,
  openExtensionPage,
  openFirefoxExtensionPage,
  timed,
  type FirefoxSession,
} from './harness';
import {
  ircStackAvailable,
  joinTheLounge,
  startNgircd,
  startTheLounge,
  waitForUsers,
  type IrcServer,
} from './irc-servers';
import {
  bodiesBy,
  chooseRecipients,
  hostSees,
  openComposer,
  originsShowing,
  plainSend,
  readers,
  veilSend,
  waitForPlaintext,
  waitForReaders,
  type Person,
  UNTHROTTLED,
  VIEWPORT,
  type ReaderState,
} from './lounge-pages';
import { clickSend } from './composer-send';
import { hook, OptionsPage, SECTION } from './options-page';

const CHANNEL = '#veil';

/** Every secret typed in a composer: none may ever cross the IRC connection. */
const secrets: string[] = [];
function secret(text: string): string {
  secrets.push(text);
  return text;
}

// ── A recording TCP proxy between The Lounge and ngircd ─────────────────────────────────────────

interface RecordingProxy {
  port: number;
  /** Everything that crossed it so far, both directions, in arrival order (before rewriting). */
  recorded(): Buffer;
  /** When set, every line a client sends to the server goes through it (a network attacker). */
  rewrite: ((line: string) => string) | undefined;
  stop(): Promise<void>;
}

async function startRecordingProxy(targetPort: number): Promise<RecordingProxy> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const keep = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    keep(client);
    keep(upstream);
    // Client → server is passed on whole line by whole line, so a line can be rewritten.
    let partial = '';
    client.on('data', (data: Buffer) => {
      chunks.push(data);
      const lines = (partial + data.toString('latin1')).split('\r\n');
      partial = lines.pop()!;
      for (const line of lines)
        upstream.write(Buffer.from(`${proxy.rewrite ? proxy.rewrite(line) : line}\r\n`, 'latin1'));
    });
    upstream.on('data', (data: Buffer) => {
      chunks.push(data);
      client.write(data);
    });
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const proxy: RecordingProxy = {
    port,
    recorded: () => Buffer.concat(chunks),
    rewrite: undefined,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return proxy;
}

const canRun = Boolean(chromiumPath) && ircStackAvailable;
if (!canRun)
  console.warn('[e2e] skipping The Lounge end to end: needs Chromium, ngircd and tools/thelounge');

describe.skipIf(!canRun)('Veil end to end on The Lounge + ngircd (Chromium)', () => {
  const extensionDir = inject('chromeExtensionDir');
  let directory: DirectoryServer;
  let ngircd: IrcServer;
  let proxy: RecordingProxy;
  let thelounge: IrcServer;
  let loungeUrl: string;
  let plain: Browser;
  let carol: Page;
  const people: Person[] = [];
  const byNick = (nick: string) => people.find((p) => p.nick === nick)!;

  async function onboardChromium(nick: string): Promise<Person> {
    const session = await launchChromium({ extensionDir, args: UNTHROTTLED });
    const options = await openExtensionPage(session.browser, session.extensionId, 'options.html');
    const ui = new OptionsPage(options, session.origin);
    // Its own window, so both pages stay visible (a background tab gets no animation frames,
    // so no intersection observer callbacks: reader frames would never mount).
    const lounge = await session.browser.newPage({ type: 'window' });
    const person: Person = { nick, session, ui, lounge };
    people.push(person);
    await ui.onboard(nick, directory.url);
    // As a user does: Settings → Sites (The Lounge's own markup does not turn Veil on).
    await ui.enableSite(new URL(loungeUrl).host);
    await lounge.setViewport(VIEWPORT);
    return person;
  }

  beforeAll(async () => {
    const started = Date.now();
    [directory, ngircd] = await Promise.all([startDirectory(), startNgircd()]);
    proxy = await startRecordingProxy(ngircd.port);
    thelounge = await startTheLounge({ ircPort: proxy.port, channel: CHANNEL });
    loungeUrl = `http://127.0.0.1:${thelounge.port}/`;
    plain = await launchPlainChromium();
    carol = await (await plain.createBrowserContext()).newPage();
    await carol.setViewport(VIEWPORT);
    console.log(`[e2e] directory, ngircd, proxy, The Lounge up in ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    for (const p of people) await p.session.close().catch(() => undefined);
    await plain?.close().catch(() => undefined);
    await thelounge?.stop();
    await proxy?.stop();
    await ngircd?.stop();
    await directory?.stop();
  });

  it(
    'alice writes to bob in #veil: bob reads it (unverified, then verified), carol sees armor only; bob replies',
    timed('1:1 flow', async () => {
      const [alice, bob] = await Promise.all([onboardChromium('alice'), onboardChromium('bob')]);
      await alice.ui.addContact('bob');
      await bob.ui.addContact('alice');
      await Promise.all([
        joinTheLounge(alice.lounge, loungeUrl, 'alice', { channel: CHANNEL }),
        joinTheLounge(bob.lounge, loungeUrl, 'bob', { channel: CHANNEL }),
        joinTheLounge(carol, loungeUrl, 'carol', { channel: CHANNEL }),
      ]);
      for (const page of [alice.lounge, bob.lounge, carol])
        await waitForUsers(page, ['alice', 'bob', 'carol'], { channel: CHANNEL });
      // carol's browser has no Veil: no toggle there.
      expect(await carol.$(hook('toggle'))).toBeNull();

      const first = secret('the heron nests behind the old mill, bob');
      await veilSend(alice, ['bob'], first);
      const atBob = await waitForPlaintext(bob.lounge, first);
      expect(atBob).toMatchObject({ status: 'unverified', sender: 'alice' });
      // The reader takes the message's free width, not the iframe's default 300 px.
      const widths = await bob.lounge.$$eval(`.msg ${hook('message')}`, (els) =>
        els.map((el) => {
          const msg = el.closest('.msg')!.getBoundingClientRect().width;
          return el.getBoundingClientRect().width / msg;
        }),
      );
      expect(widths.length).toBeGreaterThan(0);
      for (const share of widths) expect(share).toBeGreaterThan(0.5);
      // Her own line renders for alice from her cache.
      expect((await waitForPlaintext(alice.lounge, first)).status).not.toBe('failed');

      // carol (no Veil) sees only armored lines from alice, never the text.
      const atCarol = await bodiesBy(carol, 'alice');
      expect(atCarol.length).toBeGreaterThan(0);
      for (const body of atCarol) expect(body).toMatch(/^VeiL[AB][0-9A-Za-z]+$/);
      for (const page of [carol, alice.lounge, bob.lounge])
        expect(await hostSees(page)).not.toContain('heron');
      // Alice's first message (a group bundle: #veil is a channel) set her session with bob up
      // post-quantum (type 5: X25519 + ML-KEM-768), from the KEM prekey bob's extension
      // published to the real directory.
      const firstEnvelope = decodeEnvelope(dearmor(atCarol.join('\n')));
      expect(firstEnvelope.type).toBe(4);
      const pairwise = firstEnvelope.type === 4 ? firstEnvelope.pairwise : [];
      expect(pairwise.length).toBeGreaterThan(0);
      for (const p of pairwise) expect(p.type === 1 && p.kem !== undefined).toBe(true);

      // They compare safety numbers and mark each other verified.
      for (const [me, other] of [
        [alice, 'bob'],
        [bob, 'alice'],
      ] as const) {
        await me.ui.openVerify(other);
        await me.ui.click(hook('mark-verified'));
        await me.ui.success(SECTION.mark);
        await me.ui.go('#contacts');
        expect(await me.ui.contactStatus(other)).toBe('verified');
      }
      const second = secret('verified now: meet at the stone bridge');
      await veilSend(alice, ['bob'], second);
      expect(await waitForPlaintext(bob.lounge, second)).toMatchObject({
        status: 'verified',
        sender: 'alice',
      });

      const reply = secret('bob here: the bridge at noon works');
      await veilSend(bob, ['alice'], reply);
      expect(await waitForPlaintext(alice.lounge, reply)).toMatchObject({
        status: 'verified',
        sender: 'bob',
      });
      expect(await hostSees(carol)).not.toContain('bridge');
      // README pictures: the same channel with Veil (bob) and without it (carol).
      if (process.env.VEIL_SCREENSHOTS) {
        await bob.lounge.screenshot({ path: 'docs/screenshots/thelounge-veil.png' });
        await carol.screenshot({ path: 'docs/screenshots/thelounge-plain.png' });
      }
    }),
  );

  it(
    'a 3 KB message that IRC splits into many lines arrives intact',
    timed('long message', async () => {
      const alice = byNick('alice');
      const bob = byNick('bob');
      const words = Array.from({ length: 400 }, (_, i) => `word${i}`);
      const long = secret(`long letter: ${words.join(' ')} — the end.`);
      expect(Buffer.byteLength(long)).toBeGreaterThanOrEqual(3_000);
      const before = (await bodiesBy(carol, 'alice')).length;
      await veilSend(alice, ['bob'], long);
      expect(await waitForPlaintext(bob.lounge, long, 90_000)).toMatchObject({
        status: 'verified',
        sender: 'alice',
      });
      const lines = (await bodiesBy(carol, 'alice')).slice(before);
      console.log(`[e2e] ${long.length}-char message → ${lines.length} IRC lines`);
      expect(lines.length).toBeGreaterThanOrEqual(8);
      for (const line of lines) expect(line).toMatch(/^VeiLB[0-9A-Za-z]+$/);
    }),
  );

  it(
    'tampered (in flight, or a copy), replayed and truncated ciphertext shows failed at bob, never text',
    timed('tamper, replay, truncate', async () => {
      const alice = byNick('alice');
      const bob = byNick('bob');
      const settled = (r: ReaderState) => r.status !== null && r.failure !== null;

      // A network attacker between The Lounge and ngircd changes one character of alice's
      // next armored line: bob never gets the real one, so this is the MAC check at work.
      const inFlight = secret('changed on the wire: bob must not trust this');
      let flips = 0;
      proxy.rewrite = (line) => {
        // `PRIVMSG #veil VeiLA…` (one word needs no `:`) or `PRIVMSG #veil :VeiLB… VeiLB…`.
        const at = /^PRIVMSG #veil :?VeiL/.exec(line)?.[0].length;
        if (flips > 0 || at === undefined) return line;
        flips++;
        const mid = at + Math.floor((line.length - at) / 2);
        return line.slice(0, mid) + (line[mid] === 'x' ? 'y' : 'x') + line.slice(mid + 1);
      };
      const beforeFlight = (await readers(bob.lounge)).length;
      try {
        await veilSend(alice, ['bob'], inFlight);
        const atBob = await waitForReaders(bob.lounge, beforeFlight + 1, settled);
        expect(flips).toBe(1);
        expect(atBob.at(-1)).toMatchObject({ status: 'failed', plaintext: null });
        expect(atBob.at(-1)!.failure).toMatch(/damaged|tampered/);
      } finally {
        proxy.rewrite = undefined;
      }
      const original = secret('only once: the key is under the blue pot');
      const before = (await bodiesBy(carol, 'alice')).length;
      await veilSend(alice, ['bob'], original);
      await waitForPlaintext(bob.lounge, original);
      const lines = (await bodiesBy(carol, 'alice')).slice(before);
      expect(lines.length).toBeGreaterThanOrEqual(1);
      const baseline = (await readers(bob.lounge)).length;

      // carol's tampered copy: one payload character changed (in the middle of the first line). Its
      // message number was used already, so the protocol may reject it as a replay before it
      // checks the MAC; either way it is a failure, not text.
      const mid = Math.floor(lines[0]!.length / 2) + 10;
      const flipped = lines[0]![mid] === 'a' ? 'b' : 'a';
      const tampered = [
        lines[0]!.slice(0, mid) + flipped + lines[0]!.slice(mid + 1),
        ...lines.slice(1),
      ];
      for (const line of tampered) await plainSend(carol, line);
      const afterTamper = await waitForReaders(bob.lounge, baseline + 1, settled);
      expect(afterTamper.at(-1)).toMatchObject({ status: 'failed', plaintext: null });

      // Replayed: the same lines again, below later ones. The message is genuine, so it is not
      // a failure: it is shown as shown again, its text held back until bob asks.
      for (const line of lines) await plainSend(carol, line);
      const afterReplay = await waitForReaders(
        bob.lounge,
        baseline + 2,
        (r) => r.status !== null && (r.failure !== null || r.hidden),
      );
      expect(afterReplay.at(-1)).toMatchObject({ status: 'repeat', plaintext: null, hidden: true });

      // Truncated: the first half of the first line.
      await plainSend(carol, lines[0]!.slice(0, Math.floor(lines[0]!.length / 2)));
      const afterTruncate = await waitForReaders(bob.lounge, baseline + 3, settled);
      expect(afterTruncate.at(-1)).toMatchObject({ status: 'failed', plaintext: null });
      expect(afterTruncate.at(-1)!.failure).toMatch(/missing/);
      console.log(
        `[e2e] bob's reader says: ${afterTruncate
          .slice(baseline)
          .map((r) => r.failure)
          .join(' | ')}`,
      );

      // None of them showed text; the one real message shows once.
      const all = await readers(bob.lounge);
      for (const r of all.slice(baseline)) {
        expect(['failed', 'repeat']).toContain(r.status);
        expect(r.plaintext).toBeNull();
      }
      expect(all.filter((r) => r.plaintext === original)).toHaveLength(1);
    }),
  );

  it(
    'a group of three all read each other; once dave is removed he cannot read new messages',
    timed('group of three', async () => {
      const alice = byNick('alice');
      const bob = byNick('bob');
      const dave = await onboardChromium('dave');
      await joinTheLounge(dave.lounge, loungeUrl, 'dave', { channel: CHANNEL });
      for (const p of [alice, bob, dave])
        await waitForUsers(p.lounge, ['alice', 'bob', 'dave'], { channel: CHANNEL });

      const fromAlice = secret('group hello from alice to bob and dave');
      await veilSend(alice, ['bob', 'dave'], fromAlice);
      const fromBob = secret('group hello from bob to alice and dave');
      await veilSend(bob, ['alice', 'dave'], fromBob);
      const fromDave = secret('group hello from dave to alice and bob');
      await veilSend(dave, ['alice', 'bob'], fromDave);
      for (const [p, texts] of [
        [alice, [fromBob, fromDave]],
        [bob, [fromAlice, fromDave]],
        [dave, [fromAlice, fromBob]],
      ] as const) {
        for (const text of texts)
          expect((await waitForPlaintext(p.lounge, text)).status).not.toBe('failed');
      }

      // alice drops dave from the recipients.
      const daveBefore = (await readers(dave.lounge)).length;
      const withoutDave = secret('just bob now: dave must not read this');
      await veilSend(alice, ['bob'], withoutDave);
      await waitForPlaintext(bob.lounge, withoutDave);
      const atDave = await waitForReaders(dave.lounge, daveBefore + 1, (r) => r.status !== null);
      expect(atDave.at(-1)!.status).toBe('failed');
      expect(atDave.map((r) => r.plaintext)).not.toContain(withoutDave);
      expect(await hostSees(dave.lounge)).not.toContain('must not read');

      // bob read alice's change: his composer (opened before it) cannot put dave back unawares,
      // and what bob sends now, with the members as they are, dave cannot read either.
      const fromBobAfter = secret('bob after the change: dave is out');
      const composer = await openComposer(bob);
      await chooseRecipients(composer, ['alice', 'dave']);
      await composer.type(hook('compose-input'), 'x');
      await clickSend(composer);
      await composer.waitForSelector(`${hook('notice')}[data-veil-kind="error"]`, {
        timeout: 30_000,
      });
      await composer.$eval(hook('compose-input'), (el) => {
        (el as HTMLTextAreaElement).value = '';
        el.dispatchEvent(new Event('input', { bubbles: true }));
      });
      const daveBefore2 = (await readers(dave.lounge)).length;
      await veilSend(bob, ['alice'], fromBobAfter);
      await waitForPlaintext(alice.lounge, fromBobAfter);
      const atDave2 = await waitForReaders(dave.lounge, daveBefore2 + 1, (r) => r.status !== null);
      expect(atDave2.at(-1)!.status).toBe('failed');
      expect(await hostSees(dave.lounge)).not.toContain('dave is out');
    }),
  );

  it('only ciphertext crossed the IRC connection (recorded between The Lounge and ngircd)', () => {
    const wire = proxy.recorded().toString('utf8');
    expect(wire).toMatch(/PRIVMSG #veil :?VeiL[AB]/);
    expect(secrets.length).toBeGreaterThanOrEqual(7);
    for (const text of secrets) {
      expect(wire).not.toContain(text);
      // Not even a distinctive fragment of it.
      expect(wire).not.toContain(text.slice(0, 16));
    }
    for (const word of ['heron', 'bridge', 'blue pot', 'word399', 'must not read'])
      expect(wire).not.toContain(word);
  });

  describe.skipIf(!firefoxPath)('Firefox ESR', () => {
    let firefox: FirefoxSession | undefined;
    let erin: Person | undefined;

    afterAll(async () => {
      await firefox?.close();
    });

    /** erin: the Firefox build in Firefox ESR, onboarded and in #veil (once for both tests). */
    async function onboardErin(): Promise<Person> {
      if (erin) return erin;
      firefox = await launchFirefox({ extensionDir: inject('firefoxExtensionDir') });
      const options = await openFirefoxExtensionPage(firefox.browser, 'options.html');
      const ui = new OptionsPage(options, firefox.origin);
      await ui.onboard('erin', directory.url);
      await ui.enableSite(new URL(loungeUrl).host);
      const lounge = await firefox.browser.newPage({ type: 'window' });
      await lounge.setViewport(VIEWPORT);
      await joinTheLounge(lounge, loungeUrl, 'erin', { channel: CHANNEL });
      erin = { nick: 'erin', session: firefox, ui, lounge };
      return erin;
    }

    it(
      'erin (Firefox build in Firefox ESR) writes in #veil; bob (Chromium) reads it',
      timed('firefox sender', async () => {
        const bob = byNick('bob');
        const erin = await onboardErin();
        await waitForUsers(erin.lounge, ['bob', 'erin'], { channel: CHANNEL });
        const text = secret('erin writes from firefox: the otters are back');
        await veilSend(erin, ['bob'], text);
        expect(await waitForPlaintext(bob.lounge, text)).toMatchObject({
          status: 'unverified',
          sender: 'erin',
        });
        expect(proxy.recorded().toString('utf8')).not.toContain('otters');
      }),
    );

    it(
      'bob (Chromium) writes to erin: Firefox shows it in a reader frame (unverified, then verified), the host page and carol never see it',
      timed('firefox reader', async () => {
        const bob = byNick('bob');
        const erin = await onboardErin();
        for (const page of [erin.lounge, bob.lounge, carol])
          await waitForUsers(page, ['bob', 'erin'], { channel: CHANNEL });

        const first = secret('bob to erin in firefox: the kingfisher came back at dawn');
        await veilSend(bob, ['erin'], first);
        // Read inside erin's reader frame, through the frame's own document over WebDriver BiDi.
        expect(await waitForPlaintext(erin.lounge, first)).toMatchObject({
          status: 'unverified',
          sender: 'bob',
        });
        // That document is the extension's: the text is drawn at erin's moz-extension origin.
        expect(await originsShowing(erin.lounge, first)).toEqual([firefox!.origin.slice(0, -1)]);
        // Every reader frame is the packaged reader page, and the host page cannot look into
        // one: no contentDocument, and its window's document is out of reach.
        const isolation = await erin.lounge.$$eval(`${hook('message')} iframe`, (frames) =>
          frames.map((f) => {
            const frame = f as HTMLIFrameElement;
            let reachable: boolean;
            try {
              reachable = frame.contentWindow?.document !== undefined;
            } catch {
              reachable = false;
            }
            return { src: frame.src, contentDocument: frame.contentDocument, reachable };
          }),
        );
        expect(isolation.length).toBeGreaterThan(0);
        for (const frame of isolation) {
          // Its address names the page only: its token and key came by postMessage.
          expect(frame.src).toBe(`${firefox!.origin}reader.html`);
          expect(frame).toMatchObject({ contentDocument: null, reachable: false });
        }
        for (const page of [erin.lounge, carol])
          expect(await hostSees(page)).not.toContain('kingfisher');
        const atCarol = await bodiesBy(carol, 'bob');
        expect(atCarol.length).toBeGreaterThan(0);
        for (const body of atCarol) expect(body).toMatch(/^VeiL[AB][0-9A-Za-z]+$/);

        // They compare safety numbers and mark each other verified (erin in Firefox's options).
        for (const [me, other] of [
          [erin, 'bob'],
          [bob, 'erin'],
        ] as const) {
          const { contacts } = await me.ui.request({ type: 'listContacts' });
          if (!contacts.some((c) => c.handle === other)) await me.ui.addContact(other);
          await me.ui.openVerify(other);
          await me.ui.click(hook('mark-verified'));
          await me.ui.success(SECTION.mark);
          await me.ui.go('#contacts');
          expect(await me.ui.contactStatus(other)).toBe('verified');
        }
        const second = secret('verified in firefox too: the kingfisher nests by the weir');
        await veilSend(bob, ['erin'], second);
        expect(await waitForPlaintext(erin.lounge, second)).toMatchObject({
          status: 'verified',
          sender: 'bob',
        });
        // The page lays its own box over that reader: Firefox has no IntersectionObserver v2,
        // so the reader asks the content script's check, and holds its text back while covered.
        let covered: { iframe: ElementHandle<Element>; frame: Frame } | undefined;
        for (const iframe of await erin.lounge.$$(`${hook('message')} iframe`)) {
          const frame = await iframe.contentFrame();
          const shown = await frame
            ?.$eval(hook('plaintext'), (el) => el.textContent)
            .catch(() => null);
          if (frame && shown === second) covered = { iframe, frame };
        }
        expect(covered).toBeDefined();
        await covered!.iframe.evaluate((f) => {
          f.scrollIntoView({ block: 'center' });
          const r = f.getBoundingClientRect();
          const box = document.createElement('div');
          box.id = 'page-cover';
          box.textContent = 'nothing to see';
          box.style.cssText = `position:fixed;left:${r.left}px;top:${r.top}px;width:${r.width}px;height:${r.height}px;background:#fff;z-index:2147483647`;
          document.body.append(box);
        });
        await covered!.frame.waitForSelector(hook('obscured'), { timeout: 15_000 });
        expect(await covered!.frame.$(hook('plaintext'))).toBeNull();
        await erin.lounge.evaluate(() => document.getElementById('page-cover')?.remove());
        await covered!.frame.waitForSelector(hook('plaintext'), { timeout: 15_000 });

        // Each line shows once; neither crossed IRC as text.
        const atErin = await readers(erin.lounge);
        expect(atErin.filter((r) => r.plaintext === first)).toHaveLength(1);
        expect(atErin.filter((r) => r.plaintext === second)).toHaveLength(1);
        for (const page of [erin.lounge, carol]) expect(await hostSees(page)).not.toContain('weir');
        const wire = proxy.recorded().toString('utf8');
        for (const text of [first, second]) expect(wire).not.toContain(text.slice(0, 16));
        expect(wire).not.toContain('kingfisher');
      }),
    );
  });
});
