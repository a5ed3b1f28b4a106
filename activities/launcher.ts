/**
 * Starts the actions' processes on one launcher thread, off the worker's main thread (launcher-thread.cjs says
 * why). The thread starts with the first process and lives as long as the worker; if it ever stops, the
 * processes it was watching are killed, their actions fail as retryable, and the next action starts a new one.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { KernelUsage, SamplerSlot } from './memory';

export interface LaunchRequest {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Bytes kept per stream (the tail). */
  outputLimit: number;
  /** Nice steps below the worker's priority the child starts at (through `nice -n`); null leaves it there. */
  nice: number | null;
  /** A memory sampler's slot the thread hands the child's pid to as soon as it exists. */
  sampler?: SamplerSlot;
  /** Measure the child's tree from the kernel (GNU time's wait4), where the machine has it. */
  rusage?: boolean;
}

export interface LaunchEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Spawn to the streams' close, timed on the launcher thread. */
  durationMs: number;
  stdout: string;
  stderr: string;
  stdoutCut: number;
  stderrCut: number;
  /** With `rusage`, where GNU time measured it. */
  usage?: KernelUsage;
}

/** LaunchError's code when the launcher thread stopped under a process. */
export const LAUNCHER_STOPPED = 'ELAUNCHERSTOPPED';

/** The process could not start (`code`: ENOENT, EACCES, …), or the launcher thread stopped (LAUNCHER_STOPPED). */
export class LaunchError extends Error {
  override readonly name = 'LaunchError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

type Reply =
  | { type: 'started'; id: number; pid: number }
  | ({ type: 'ended'; id: number } & LaunchEnd)
  | { type: 'failed'; id: number; code: string | undefined; message: string };

interface Pending {
  pid?: number;
  onStarted: (pid: number) => void;
  resolve: (end: LaunchEnd) => void;
  reject: (err: LaunchError) => void;
}

const THREAD_FILE = path.join(__dirname, 'launcher-thread.cjs');

let thread: Worker | undefined;
let nextId = 1;
const pending = new Map<number, Pending>();

function launcherThread(): Worker {
  if (thread) return thread;
  const started = new Worker(THREAD_FILE);
  started.on('message', (reply: Reply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    if (reply.type === 'started') {
      p.pid = reply.pid;
      p.onStarted(reply.pid);
      return;
    }
    pending.delete(reply.id);
    if (pending.size === 0) started.unref();
    if (reply.type === 'failed') p.reject(new LaunchError(reply.message, reply.code));
    else p.resolve(reply);
  });
  const stopped = (why: string): void => {
    if (thread !== started) return;
    thread = undefined;
    for (const [id, p] of pending) {
      pending.delete(id);
      if (p.pid !== undefined) killGroup(p.pid, 'SIGKILL');
      p.reject(new LaunchError(`the launcher thread stopped (${why}); its process was killed`, LAUNCHER_STOPPED));
    }
  };
  started.on('error', (err) => stopped(err.message));
  started.on('exit', (code) => stopped(`exit code ${code}`));
  thread = started;
  return started;
}

/**
 * Starts `request`'s process as the leader of its own process group; `onStarted` gets its pid once it runs.
 * Resolves when the process has exited and its streams closed; rejects with `LaunchError` if it never ran or
 * the thread stopped under it.
 */
export function launch(request: LaunchRequest, onStarted: (pid: number) => void): Promise<LaunchEnd> {
  const id = nextId++;
  return new Promise<LaunchEnd>((resolve, reject) => {
    const launcher = launcherThread();
    pending.set(id, { onStarted, resolve, reject });
    // The thread keeps the worker alive while it watches a process, and only then.
    launcher.ref();
    launcher.postMessage({ id, ...request });
  });
}

/** Stops the launcher thread (a worker stopping, a test file ending): what it watched is killed. */
export async function stopLauncher(): Promise<void> {
  await thread?.terminate();
}

/** Signals a launched process's whole group; a group that is already gone is not an error. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}
