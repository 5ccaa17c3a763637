// Server processes for tests and benchmarks (the key directory, ngircd, The Lounge, nginx): each is
// spawned here, waited for until it serves on 127.0.0.1, and stopped by its own PID (SIGTERM, then
// SIGKILL); nothing else is signalled. No vitest imports: bench/ uses it too.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** How long a stopped process gets to exit before SIGKILL. */
const KILL_AFTER_MS = 5_000;
/** Output kept for failure messages. */
const OUTPUT_BYTES = 65_536;

/** A port free on 127.0.0.1 right now (for servers that cannot be told to take port 0). */
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

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function canConnect(port: number): Promise<boolean> {
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

/** Whether `url` answers with a 2xx status. */
export async function answersOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
}

// Children still running when this process exits (a crashed run) are killed by PID.
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

export interface ServerProcess {
  pid: number;
  /** For its exit code or signal; signal it only through stop(). */
  child: ChildProcess;
  /** What the process printed so far (last 64 KB), for failure messages. */
  output(): string;
  /**
   * Sends `signal` (default SIGTERM), then SIGKILL if it is still running 5 s later; resolves
   * once it has exited and `removeOnStop` is deleted. Safe to call again.
   */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface ServerProcessOptions {
  /** For error messages. */
  name: string;
  command: string;
  args: readonly string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Whether it serves yet; asked every 100 ms and whenever it prints. */
  ready: (output: string) => boolean | Promise<boolean>;
  /** Milliseconds until it must be ready. */
  timeout: number;
  /** A throw-away directory (config, data) deleted once the process has stopped. */
  removeOnStop?: string;
}

/** Spawns a server and waits until `ready` holds; stops it and throws if it exits or times out. */
export async function startServerProcess(opts: ServerProcessOptions): Promise<ServerProcess> {
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  let output = '';
  let spawnError: Error | undefined;
  // Wakes the readiness loop early: new output or an exit need not wait out the 100 ms.
  let wake = () => {};
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_BYTES);
    wake();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  child.once('error', (error) => {
    spawnError = error;
    wake();
  });
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
      wake();
    }),
  );

  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.pid !== undefined && !hasExited()) {
      process.kill(child.pid, signal);
      const killTimer = setTimeout(() => {
        if (!hasExited()) process.kill(child.pid!, 'SIGKILL');
      }, KILL_AFTER_MS);
      await exited;
      clearTimeout(killTimer);
    }
    if (opts.removeOnStop) fs.rmSync(opts.removeOnStop, { recursive: true, force: true });
  };

  const deadline = Date.now() + opts.timeout;
  for (;;) {
    if (spawnError || hasExited()) {
      await stop();
      const why = spawnError?.message ?? child.exitCode ?? child.signalCode;
      throw new Error(`${opts.name} exited (${why}) before it was ready:\n${output}`);
    }
    if (await opts.ready(output)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${opts.name} not ready after ${opts.timeout} ms:\n${output}`);
    }
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, 100);
    });
  }
  return { pid: child.pid!, child, stop, output: () => output };
}

export interface KeyDirectoryProcess extends ServerProcess {
  /** `http://127.0.0.1:<port>` */
  url: string;
}

/**
 * Runs key-directory/server.ts on a port the kernel picks, with `env` over this process's
 * environment (VEIL_DB, VEIL_RATE_LIMITS, …). `node --import tsx`: one process, so the PID
 * stopped is the server itself.
 */
export async function startKeyDirectory(opts: {
  env: NodeJS.ProcessEnv;
  timeout: number;
  removeOnStop?: string;
}): Promise<KeyDirectoryProcess> {
  let url: string | undefined;
  const server = await startServerProcess({
    name: 'key directory',
    command: process.execPath,
    args: ['--import', 'tsx', 'key-directory/server.ts'],
    cwd: repoRoot,
    env: { ...process.env, PORT: '0', ...opts.env },
    // Printed once it listens, after migrations and the first signed head.
    ready: (output) => {
      url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
      return url !== undefined;
    },
    timeout: opts.timeout,
    removeOnStop: opts.removeOnStop,
  });
  return { ...server, url: url! };
}
