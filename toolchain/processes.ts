/**
 * Starting the project's own Node entry points as processes (the local OpenID provider, `cutover serve`, a
 * worker) for the dev stack, the tests and the benches: each says on stdout when it is ready; and stopping them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/**
 * Starts `node args…` and resolves once a line of its stdout matches `ready` (rejects if it exits first).
 * Its stderr is this process's; its stdout is read until then and dropped after.
 */
export function startNodeProcess(args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const name = path.basename(args.find((a) => !a.startsWith('-')) ?? 'node');
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.split('\n').some((l) => ready.test(l))) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it was ready: ${out.slice(-500)}`)));
  });
}

/**
 * Stops a child whatever it is doing: `signal` first (SIGTERM: a worker drains, and a `cutover worker` passes it
 * on to the worker it runs, which SIGKILL would orphan; SIGINT: PostgreSQL's fast shutdown), then SIGKILL after
 * `graceMs`. At once if it has exited.
 */
export async function stopChild(
  child: ChildProcess,
  graceMs: number,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const hard = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(hard);
}
