/**
 * Starts and stops `temporal server start-dev` (the real Temporal server with its UI) on loopback, with the
 * cutover search attributes registered. Used by `npm run server`, `npm start`, integration tests and benches.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { SEARCH_ATTRIBUTE_NAMES } from '../workflows/messages';
import { waitForPort } from '../common/net';
import { ensureTemporalCli } from './tools';

export interface DevServerOptions {
  /** @default 7233 */
  port?: number;
  /** @default 8233; 0 disables the UI */
  uiPort?: number;
  /** SQLite file that keeps state across restarts; in memory when absent. */
  dbFile?: string;
  /** @default 'warn' */
  logLevel?: string;
  /** Where the server's output goes. @default ignored */
  stdio?: 'inherit' | 'ignore';
  /**
   * In a process group of its own, so that a terminal's Ctrl-C (sent to the whole foreground group) leaves it
   * to its starter to stop, after the workers that still talk to it. Killed when the starter exits.
   */
  ownProcessGroup?: boolean;
}

export interface DevServer {
  address: string;
  port: number;
  uiPort?: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Server settings for the local dev server. The history service's queues poll at most 20 times a second by
 * default, so under a steady stream of tasks each workflow or activity task waits about 45 ms before it
 * reaches matching (measured: 13 empty activities in a row took 1,085 ms; with this, 176 ms). A production
 * cluster has the same knobs in its dynamic config; see docs/operating.md.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, number | boolean>> = {
  'history.transferProcessorMaxPollRPS': 1000,
  'history.timerProcessorMaxPollRPS': 1000,
  // An activity scheduled by a workflow task goes straight back to the worker that completed the task,
  // when it has a free slot, instead of through matching (the SDK asks for it by default).
  'system.enableActivityEagerExecution': true,
};

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const cli = ensureTemporalCli((line) => console.error(line));
  const port = options.port ?? 7233;
  const uiPort = options.uiPort ?? 8233;
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--log-level',
    options.logLevel ?? 'warn',
  ];
  if (uiPort === 0) args.push('--headless');
  else args.push('--ui-port', String(uiPort), '--ui-ip', '127.0.0.1');
  if (options.dbFile) {
    mkdirSync(path.dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
  }
  for (const [key, value] of Object.entries(DEV_SERVER_DYNAMIC_CONFIG))
    args.push('--dynamic-config-value', `${key}=${value}`);
  for (const name of SEARCH_ATTRIBUTE_NAMES) args.push('--search-attribute', `${name}=Keyword`);
  const child = spawn(cli, args, {
    stdio: ['ignore', options.stdio ?? 'ignore', options.stdio ?? 'ignore'],
    detached: options.ownProcessGroup ?? false,
  });
  let exited = false;
  const orphaned = () => child.kill('SIGKILL');
  if (options.ownProcessGroup) process.once('exit', orphaned);
  child.once('exit', () => {
    exited = true;
    process.off('exit', orphaned);
  });
  const stop = async (): Promise<void> => {
    if (exited) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  };
  try {
    await waitForPort(port, 60_000, () => !exited);
    if (uiPort !== 0) await waitForPort(uiPort, 30_000, () => !exited);
  } catch (err) {
    await stop();
    throw err;
  }
  return { address: `127.0.0.1:${port}`, port, ...(uiPort !== 0 ? { uiPort } : {}), process: child, stop };
}
