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
const { setPriority } = require('node:os');
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
 * @property {number | null} nice the child's absolute nice value, or null to leave it at the worker's
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
  // detached: the child leads its own process group, so a kill reaches everything it started.
  const child = spawn(launch.command, launch.args, {
    cwd: launch.cwd,
    env: launch.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (/** @type {Buffer} */ chunk) => stdout.push(chunk));
  child.stderr.on('data', (/** @type {Buffer} */ chunk) => stderr.push(chunk));
  if (child.pid !== undefined) {
    if (launch.nice !== null) {
      try {
        setPriority(child.pid, launch.nice);
      } catch {
        // Gone already (it ran in less time than the call took): nothing to lower.
      }
    }
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
