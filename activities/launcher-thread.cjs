// @ts-check
/**
 * The launcher thread: starts the actions' processes so that the worker's main thread never waits for one.
 *
 * `spawn` returns only once the child has exec'd (libuv waits on a pipe for it), and on a busy machine that
 * wait is the scheduler's: a few milliseconds each, dozens of times a second with many cutovers monitoring.
 * The main thread is the one that carries every workflow activation between Temporal's core and the workflow
 * thread, so each of those waits delayed whichever cutover was next, an approver's click included
 * (bench/README.md, "Lean under load"). Here the waits stall only this thread.
 *
 * Plain JavaScript (checked by tsc through the JSDoc types) because a worker thread loads its file itself: the
 * same file serves the built worker and the tests, which run the sources.
 *
 * Messages in: {@link Launch}. Messages out: {@link Started}, then {@link Ended} or {@link Failed}.
 */
'use strict';

const { spawn } = require('node:child_process');
const { parentPort } = require('node:worker_threads');
const { Tail } = require('./tail.cjs');

/**
 * @typedef {object} Launch
 * @property {number} id
 * @property {string} command
 * @property {string[]} args
 * @property {string} cwd
 * @property {Record<string, string>} env
 * @property {number} outputLimit bytes kept per stream (the tail)
 * @property {number | null} nice steps below the worker's priority the child starts at, or null to leave it there
 * @property {{ shared: SharedArrayBuffer, pidIndex: number, countIndex: number }} [sampler] the memory
 *   sampler's slot for the child (activities/memory.ts): its pid goes there the moment it exists
 *
 * @typedef {{ type: 'started', id: number, pid: number }} Started
 * @typedef {{ type: 'ended', id: number, code: number | null, signal: string | null, durationMs: number,
 *   stdout: string, stderr: string, stdoutCut: number, stderrCut: number }} Ended
 * @typedef {{ type: 'failed', id: number, code: string | undefined, message: string }} Failed
 */

const port = parentPort;
if (!port) throw new Error('launcher-thread.cjs runs as a worker thread');

port.on('message', (/** @type {Launch} */ launch) => {
  const { id } = launch;
  const stdout = new Tail(launch.outputLimit);
  const stderr = new Tail(launch.outputLimit);
  const started = process.hrtime.bigint();
  // A lowered child starts lowered: coreutils' `nice` sets the value and then execs the program (same pid), so
  // not one instruction of it, nor of anything it forks at once, runs at the worker's priority. Lowering it
  // after spawn returned (setPriority on its pid) raced the child: a short step had forked and finished first.
  const lowered = launch.nice !== null;
  const [command, args] = lowered
    ? ['nice', ['-n', String(launch.nice), '--', launch.command, ...launch.args]]
    : [launch.command, launch.args];
  // detached: the child leads its own process group, so a kill reaches everything it started.
  const child = spawn(command, args, {
    cwd: launch.cwd,
    env: launch.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (/** @type {Buffer} */ chunk) => stdout.push(chunk));
  child.stderr.on('data', (/** @type {Buffer} */ chunk) => stderr.push(chunk));
  if (child.pid !== undefined) {
    if (launch.sampler) {
      const cells = new Int32Array(launch.sampler.shared);
      Atomics.store(cells, launch.sampler.pidIndex, child.pid);
      Atomics.add(cells, launch.sampler.countIndex, 1);
      Atomics.notify(cells, launch.sampler.countIndex);
    }
    port.postMessage(/** @type {Started} */ ({ type: 'started', id, pid: child.pid }));
  }
  child.on('error', (/** @type {NodeJS.ErrnoException} */ err) => {
    port.postMessage(/** @type {Failed} */ ({ type: 'failed', id, code: err.code, message: err.message }));
  });
  child.on('close', (code, signal) => {
    const notStarted = lowered ? niceStartFailure(code, stderr.text()) : undefined;
    if (notStarted) {
      port.postMessage(/** @type {Failed} */ ({ type: 'failed', id, ...notStarted }));
      return;
    }
    port.postMessage(
      /** @type {Ended} */ ({
        type: 'ended',
        id,
        code,
        signal,
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        stdout: stdout.text(),
        stderr: stderr.text(),
        stdoutCut: stdout.cut,
        stderrCut: stderr.cut,
      }),
    );
  });
});

/**
 * `nice` could not exec the program: it exits 127 (not found) or 126 (found, not runnable) and says why on stderr,
 * prefixed with its own name. The runner then reports the same ENOENT or EACCES as an unlowered spawn would.
 *
 * @param {number | null} code
 * @param {string} stderr
 * @returns {{ code: string, message: string } | undefined}
 */
function niceStartFailure(code, stderr) {
  if ((code !== 127 && code !== 126) || !stderr.startsWith('nice: ')) return undefined;
  return { code: code === 127 ? 'ENOENT' : 'EACCES', message: stderr.trim() };
}
