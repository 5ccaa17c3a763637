// Runs the real key directory (key-directory/server.ts) for browser tests: its own process on a
// free 127.0.0.1 port with a throw-away SQLite file. stop() ends that process by its PID and
// deletes the file; nothing else is touched.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface DirectoryServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  pid: number;
  /** Stops the process (SIGTERM, then SIGKILL) and removes its database. */
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
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

export async function startDirectory({ timeout = 30_000 } = {}): Promise<DirectoryServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-directory-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // node --import tsx: one process, so the PID we stop is the server itself.
  const child = spawn(process.execPath, ['--import', 'tsx', 'key-directory/server.ts'], {
    cwd: repoRoot,
    env: { ...process.env, PORT: String(port), VEIL_DB: path.join(dataDir, 'directory.sqlite') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid!, 'SIGTERM');
      const killTimer = setTimeout(() => {
        if (child.exitCode === null) process.kill(child.pid!, 'SIGKILL');
      }, 5_000);
      await exited;
      clearTimeout(killTimer);
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + timeout;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`key directory exited (${child.exitCode}) before serving:\n${output}`);
    }
    try {
      const res = await fetch(`${url}/v1/health`);
      if (res.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`key directory not healthy after ${timeout} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, pid: child.pid!, stop };
}
