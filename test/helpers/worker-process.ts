/**
 * The worker as its own process, the way `npm run worker` starts it (dist/worker/main.js, with the worker's
 * Node options): one helper for every test that needs a real worker process.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import path from 'node:path';
import { freePort, waitForPort } from '../../common/net';
import { WORKER_NODE_OPTIONS, workerEnv } from '../../common/worker-process';

const MAIN = path.resolve(__dirname, '..', '..', 'dist', 'worker', 'main.js');

export interface WorkerProcessOptions {
  /** Arguments after main.js (`--environment production`). */
  args?: string[];
  /** @default stdout ignored, stderr inherited (its warnings and errors show in the test's output) */
  stdio?: StdioOptions;
}

/** Spawns a worker process with `env` (nothing of the test's own environment unless `env` carries it). */
export function spawnWorker(env: NodeJS.ProcessEnv, options: WorkerProcessOptions = {}): ChildProcess {
  return spawn(process.execPath, [...WORKER_NODE_OPTIONS, MAIN, ...(options.args ?? [])], {
    env: workerEnv(env),
    stdio: options.stdio ?? ['ignore', 'ignore', 'inherit'],
  });
}

/**
 * Spawns a worker process and waits until it is up: it serves /metrics on a port of its own (set here), which it
 * does once its Temporal workers have started. Fails at once if the process exits first.
 */
export async function startWorker(env: NodeJS.ProcessEnv, options: WorkerProcessOptions = {}): Promise<ChildProcess> {
  const metricsPort = await freePort();
  const worker = spawnWorker({ ...env, CUTOVER_METRICS_PORT: String(metricsPort) }, options);
  await waitForPort(metricsPort, 60_000, () => worker.exitCode === null);
  return worker;
}
