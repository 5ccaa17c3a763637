// Runs the real key directory (key-directory/server.ts) for browser tests: its own process on a
// 127.0.0.1 port with a throw-away SQLite file. stop() ends that process by its PID and deletes
// the file; nothing else is touched.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startKeyDirectory } from '../server-process';

export interface DirectoryServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  pid: number;
  /** Stops the process (SIGTERM, then SIGKILL) and removes its database. */
  stop(): Promise<void>;
}

export async function startDirectory({
  timeout = 30_000,
  rateLimits = true,
}: { timeout?: number; rateLimits?: boolean } = {}): Promise<DirectoryServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-directory-'));
  const server = await startKeyDirectory({
    env: {
      VEIL_DB: path.join(dataDir, 'directory.sqlite'),
      ...(rateLimits ? {} : { VEIL_RATE_LIMITS: 'off' }),
    },
    timeout,
    removeOnStop: dataDir,
  });
  return { url: server.url, pid: server.pid, stop: () => server.stop() };
}
